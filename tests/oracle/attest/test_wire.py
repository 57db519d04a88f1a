"""Bounded parsing of peers' JSON and log-safe strings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oracle.attest.wire import (
    SAFE_RECURSION_LIMIT,
    NotJson,
    TooDeep,
    TooLarge,
    loggable,
    nesting_depth,
    parse_json,
)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "]]", "\\"[[["]', 1),  # brackets and escaped quotes inside strings
        ('["\\\\", [[]]]', 3),  # an escaped backslash ends before the closing quote
        ("[" * 50 + "]" * 50, 50),
    ],
)
def test_nesting_depth_counts_structure_outside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text.encode()) == depth
    assert nesting_depth(json.dumps(json.loads(text)).encode()) == depth


def test_parse_json_refuses_large_deep_and_garbage_before_parsing() -> None:
    assert parse_json(b'{"a": [1, 2]}', 100) == {"a": [1, 2]}
    with pytest.raises(TooLarge):
        parse_json(b" " * 101, 100)
    with pytest.raises(TooDeep):
        parse_json(b"[" * 200_000 + b"]" * 200_000, 10**6)  # would overflow the C stack
    with pytest.raises(NotJson):
        parse_json(b"\xff\x00garbage", 100)
    with pytest.raises(NotJson):
        parse_json(b"[" + b"1" * 5000 + b"]", 10**4)  # int digits limit: ValueError, not a crash


def test_loggable_is_one_bounded_line() -> None:
    assert loggable("ETH-USD") == "ETH-USD"
    forged = loggable("ETH\n2026-01-01 attester INFO signed\r\x1b[2J")
    assert "\n" not in forged and "\r" not in forged and "\x1b" not in forged
    assert "\\n" in forged
    long = loggable("x" * 100_000, 64)
    assert long.startswith("x" * 64) and long.endswith("(+99936 chars)") and len(long) < 90
    assert len(loggable("\n" * 1000, 64)) < 100  # escaping does not grow it past the cut


def test_py_ecc_recursion_limit_is_lowered_so_deep_json_raises_instead_of_crashing() -> None:
    """In a fresh interpreter (py_ecc raises the limit to 100,000 at import): once the wire
    module is imported (the attester server and the node's client import it), 200,000-deep
    JSON parsed in a thread is a RecursionError, not SIGSEGV."""
    code = (
        "import sys, json, threading\n"
        "import py_ecc\n"
        "assert sys.getrecursionlimit() == 100000\n"
        "import oracle.attest.wire\n"
        "print(sys.getrecursionlimit())\n"
        "def parse():\n"
        "    try:\n"
        "        json.loads('[' * 200000 + ']' * 200000)\n"
        "    except RecursionError:\n"
        "        print('RecursionError')\n"
        "t = threading.Thread(target=parse); t.start(); t.join()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(SAFE_RECURSION_LIMIT), "RecursionError"]
