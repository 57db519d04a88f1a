"""Structured node logs: one JSON object per line (time, level, logger, message), keys redacted."""

from __future__ import annotations

import json
import logging
import sys
import time

from oracle.node.keys import RedactKeysFilter, SigningKey


class JsonFormatter(logging.Formatter):
    """Format records as JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_node_logging(key: SigningKey | None, json_lines: bool) -> None:
    """JSON lines on stderr (or keep the CLI's handlers), all through the key-redacting filter."""
    root = logging.getLogger()
    if json_lines or not root.handlers:
        for existing in list(root.handlers):
            root.removeHandler(existing)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(message)s"))
        root.addHandler(handler)
    if key is not None:
        for handler in root.handlers:
            handler.addFilter(RedactKeysFilter(key))
    root.setLevel(logging.INFO)
