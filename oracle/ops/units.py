"""Human units on the command line: durations ("2d", "26h"), amounts ("20%", "1.5") and output
limits ("var99_pct=0:50:25"), each turned into what the contracts take exactly once."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from oracle.chain.contracts import OutputSpec

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


class UnitError(ValueError):
    """A value on the command line is not in the expected human format (one-line message)."""


def parse_duration(text: str) -> int:
    """Seconds in "90", "90s", "30m", "26h", "2d" or "1w"."""
    match = _DURATION.match(text)
    if match is None:
        raise UnitError(f"{text!r} is not a duration (e.g. 3600, 90s, 30m, 26h, 2d)")
    seconds = Decimal(match.group(1)) * _SECONDS[match.group(2)]
    if seconds != seconds.to_integral_value():
        raise UnitError(f"{text!r} is not a whole number of seconds")
    return int(seconds)


def parse_amount(text: str) -> Decimal:
    """A decimal number in the output's own unit. A trailing "%" is allowed and only
    documents that the output is in percent (Proofcast's outputs are: "20%" and "20" are the
    same value, twenty percent)."""
    raw = text.strip().removesuffix("%").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UnitError(f"{text!r} is not a number (e.g. 20, 20%, -4.5)") from None
    if not value.is_finite():
        raise UnitError(f"{text!r} is not a finite number")
    return value


def to_units(value: Decimal, decimals: int, what: str) -> int:
    """`value` in feed units (`decimals` digits); refuses more digits than the feed has."""
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise UnitError(f"{what}: {value} has more than {decimals} decimal digits")
    return int(scaled)


def parse_limit(text: str, decimals: int) -> OutputSpec:
    """`NAME=MIN:MAX:MAX_DELTA[:MAX_WINDOW_DELTA]` in the output's unit (e.g. percent):
    inclusive bounds, largest change per report and within the feed's window."""
    name, sep, values = text.partition("=")
    parts = values.split(":")
    if not sep or not name.strip() or len(parts) not in (3, 4):
        raise UnitError(
            f"limit {text!r}: expected NAME=MIN:MAX:MAX_DELTA[:MAX_WINDOW_DELTA], "
            "e.g. var99_pct=0:50%:25%"
        )
    name = name.strip()
    amounts = [parse_amount(p) for p in parts] + ([Decimal(0)] if len(parts) == 3 else [])
    low, high, delta, window = (to_units(a, decimals, f"limit {name}") for a in amounts)
    if low > high:
        raise UnitError(f"limit {name}: minimum {parts[0]} is above maximum {parts[1]}")
    if delta < 0 or window < 0:
        raise UnitError(f"limit {name}: the largest changes must be >= 0")
    return OutputSpec(name, min_answer=low, max_answer=high, max_delta=delta,
                      max_window_delta=window)  # fmt: skip
