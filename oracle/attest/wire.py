"""Bounded parsing of what a peer sends, and strings from a peer made safe to log.

Everything an attester receives and everything the node receives from an attester goes through
`parse_json`: the size is capped before anything is buffered further, the nesting depth is
counted on the raw bytes (outside strings) before `json.loads` sees them, so no body can make the
parser recurse deeply. Importing this module also puts the recursion limit back to
`SAFE_RECURSION_LIMIT`: `py_ecc` (pulled in by eth_account) raises it to 100,000 at import, far
beyond what the C stack holds (a ~100k-deep JSON array then crashes the process with SIGSEGV
instead of raising RecursionError).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import py_ecc  # noqa: F401  (its import raises the recursion limit: undone below)

SAFE_RECURSION_LIMIT = 10_000  # json and repr in a thread overflow 8 MiB of C stack near 50,000
MAX_DEPTH = 16  # an honest proposal nests 5 deep, a reply 3
LOG_CHARS = 200  # an untrusted string in a log line: at most this many characters
NAME_CHARS = 64  # an untrusted feed name in a log line


def bound_recursion_limit(limit: int = SAFE_RECURSION_LIMIT) -> None:
    """Lower the interpreter's recursion limit to `limit` if something raised it above."""
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)


bound_recursion_limit()


class WireError(ValueError):
    """A peer's message that is refused before or while parsing it."""


class TooLarge(WireError):
    """More bytes than the limit."""


class TooDeep(WireError):
    """Arrays/objects nested deeper than the limit."""


class NotJson(WireError):
    """Not UTF-8 JSON."""


_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def nesting_depth(data: bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in JSON text `data` (brackets inside strings do
    not count), without parsing it. Stops counting once the depth exceeds `stop_above`."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1
    for match in _STRUCTURE.finditer(data):
        i = match.start()
        if i == escaped_at:
            continue
        c = data[i]
        if in_string:
            if c == 0x5C:  # backslash: the next byte is escaped
                escaped_at = i + 1
            elif c == 0x22:
                in_string = False
            continue
        if c == 0x22:
            in_string = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        elif c in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json(data: bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads(data)` once `data` is at most `max_bytes` long and nests at most `max_depth`
    deep; raises TooLarge, TooDeep or NotJson (all WireError, a ValueError) otherwise."""
    if len(data) > max_bytes:
        raise TooLarge(f"{len(data)} bytes, the limit is {max_bytes}")
    if nesting_depth(data, max_depth) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise NotJson(f"not JSON: {loggable(str(exc), 120)}") from None


PROPOSED_BAR_BYTES = 256  # an honest proposed bar takes about 100 bytes of JSON
OBSERVED_BAR_BYTES = 160  # an honest observed bar (date and OHLC) 60 to 100 bytes


def proposal_body_limit(slots: int, bars: int, observations: int = 0) -> int:
    """The largest proposal body an attester reads: 8 KiB, 256 bytes per proposed bar of every
    slot, and per observation it carries 1 KiB (signer, signature) plus 160 bytes per observed
    bar of every slot. K = 4 feeds of 531 bars with 4 observations: 1.9 MiB."""
    per_observation = 1024 + slots * bars * OBSERVED_BAR_BYTES
    return 8 * 1024 + slots * bars * PROPOSED_BAR_BYTES + observations * per_observation


def observation_reply_limit(feeds: int, bars: int) -> int:
    """The largest reply to an observation request the node reads: one observation (4 KiB for
    signer, signature and up to K refusals) plus 160 bytes per observed bar."""
    return 4 * 1024 + feeds * bars * OBSERVED_BAR_BYTES


def observe_request_limit(slots: int) -> int:
    """The largest observation request an attester reads: 1 KiB plus one quoted, escaped feed
    name per slot (a name is at most NAME_CHARS characters, up to 6 bytes each escaped)."""
    return 1024 + slots * (NAME_CHARS * 6 + 4)


def loggable(value: object, limit: int = LOG_CHARS) -> str:
    """`value` as one line of at most ~`limit` characters: control characters and newlines
    escaped (repr-style), the rest cut with a note of the full length."""
    text = value if isinstance(value, str) else str(value)
    cut = text[:limit]
    escaped = cut.encode("unicode_escape").decode("ascii")
    if len(escaped) > limit:
        escaped = escaped[:limit]
    if len(text) > limit:
        return f"{escaped}...(+{len(text) - limit} chars)"
    return escaped
