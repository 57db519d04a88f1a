"""Test market data: growing daily OHLC CSV files as an exchange export would write them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

HEADER = "date,open,high,low,close,volume\n"


def candle_rows(start: dt.date, days: int, seed: int, price: float = 100.0) -> list[str]:
    """`days` consecutive daily bars from `start` (a seeded random walk)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(days):
        ret = rng.normal(0, 0.02)
        close = price * float(np.exp(ret))
        high = max(price, close) * (1 + abs(rng.normal(0, 0.005)))
        low = min(price, close) * (1 - abs(rng.normal(0, 0.005)))
        day = start + dt.timedelta(days=i)
        rows.append(f"{day.isoformat()},{price:.4f},{high:.4f},{low:.4f},{close:.4f},1000\n")
        price = close
    return rows


def write_candles(path: Path, end: dt.date, days: int = 40, seed: int = 0) -> Path:
    """A CSV whose last bar is dated `end`."""
    path.write_text(HEADER + "".join(candle_rows(end - dt.timedelta(days=days - 1), days, seed)))
    return path


def append_candle(path: Path, seed: int, row: str | None = None) -> str:
    """Append the next day's bar (or `row` verbatim) and return it."""
    last = path.read_text().strip().splitlines()[-1].split(",")
    day = dt.date.fromisoformat(last[0]) + dt.timedelta(days=1)
    row = row or candle_rows(day, 1, seed, price=float(last[4]))[0]
    with path.open("a") as fh:
        fh.write(row)
    return row
