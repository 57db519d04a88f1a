"""A data-quality check applied before a forecast is proved: is the last bar's move plausible?

A corrupt tick (a price off by 10x) produces features the model was never trained on and a
forecast that looks like a crisis. The node refuses such a bar for that feed (the feed is left
out of the round, the others publish); attesters, who check bars against their own data, are
the main defence, this is the node's own guard against its own data source.

The move of the last day is measured against the volatility of the days before it: the larger
of the close-to-close log return and (with OHLC) half the log range ln(high/low), in units of
the standard deviation of the previous `window` daily log returns (floored at `VOL_FLOOR_PCT`).
Real crashes can exceed 10 such sigmas (1987: about 20), so the limit is a per-feed setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.data import PriceSeries

WINDOW = 22
BARS_NEEDED = WINDOW + 2  # the last bar, the WINDOW returns before it
VOL_FLOOR_PCT = 0.25  # daily percent: keeps a near-flat history from flagging ordinary moves


@dataclass(frozen=True)
class ImplausibleMove:
    """The last bar moved more than the limit allows (for messages and refusals)."""

    date: str
    move_pct: float
    sigma_pct: float
    sigmas: float
    limit: float

    def __str__(self) -> str:
        return (
            f"bar {self.date}: move {self.move_pct:.2f}% is {self.sigmas:.1f} sigmas of the "
            f"previous {WINDOW} days' volatility ({self.sigma_pct:.2f}%/day), limit {self.limit:g}"
        )


def last_move_sigmas(series: PriceSeries, window: int = WINDOW) -> tuple[float, float, float]:
    """(move %, sigma %, move / sigma) of the last bar; needs `window` + 2 bars."""
    if len(series) < window + 2:
        raise ValueError(f"{series.name}: {len(series)} bars, need {window + 2} to judge a move")
    returns = 100.0 * np.diff(np.log(series.close))
    move = abs(returns[-1])
    if series.has_ohlc:
        move = max(move, 50.0 * float(np.log(series.high[-1] / series.low[-1])))
    sigma = max(float(np.std(returns[-1 - window : -1], ddof=1)), VOL_FLOOR_PCT)
    return float(move), sigma, float(move / sigma)


def implausible_move(series: PriceSeries, max_sigmas: float) -> ImplausibleMove | None:
    """The last bar's move if it exceeds `max_sigmas` (0 disables the check), else None."""
    if max_sigmas <= 0:
        return None
    move, sigma, sigmas = last_move_sigmas(series)
    if sigmas <= max_sigmas:
        return None
    date = str(np.datetime64(series.dates[-1], "D"))
    return ImplausibleMove(date, move, sigma, sigmas, max_sigmas)
