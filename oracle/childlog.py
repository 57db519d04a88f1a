"""Child processes Proofcast waits on (anvil, attesters): how long to wait, and what to show
when one does not come up."""

from __future__ import annotations

import os
from pathlib import Path

TAIL_LINES = 20


def machine_factor(concurrent: int = 1) -> float:
    """How much slower than an idle machine a start is expected to be: the larger of the
    processes starting at once per core and the 1-minute load per core (at least 1)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        load = 0.0
    return max(1.0, concurrent / cores, load / cores)


def start_timeout(env: str, base: float, concurrent: int = 1) -> float:
    """Seconds to wait for a child to come up: $`env` if set (a positive number), else `base`
    scaled by `machine_factor(concurrent)`."""
    raw = os.environ.get(env)
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"${env}={raw!r}: expected a number of seconds") from None
        if value <= 0:
            raise ValueError(f"${env}={raw!r}: expected a positive number of seconds")
        return value
    return base * machine_factor(concurrent)


def log_tail(path: Path | None, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of a child's log, indented, for an error message."""
    if path is None:
        return "  (its output was not logged)"
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return f"  (no log at {path})"
    tail = text.splitlines()[-lines:]
    if not tail:
        return "  (the log is empty)"
    return "\n".join(f"  | {line}" for line in tail)
