"""When a feed is due: the Chainlink data-feed rule (heartbeat or deviation threshold).

A feed publishes several outputs (volatility and VaR) from one proof; it is due when any of
them moved beyond the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OnChainValue:
    """What the oracle contract currently holds for one feed."""

    answers: tuple[float, ...]  # one per model output, in consumer units
    observed_at: int  # candle time of the data the answer was computed from
    updated_at: int  # block time of the update


@dataclass(frozen=True)
class Decision:
    """Whether one feed is due, and why (for logs and metrics)."""

    feed: str
    due: bool
    reason: str


def deviation_bps(forecast: float, current: float, floor: float) -> float:
    """Relative change in basis points; the denominator is at least `floor` (values near 0)."""
    return abs(forecast - current) / max(abs(current), floor) * 10_000


def decide(
    feed: str,
    forecasts: Sequence[float],
    observed_at: int,
    onchain: OnChainValue | None,
    now: float,
    heartbeat_seconds: float,
    threshold_bps: float,
    floor: float = 1e-6,
) -> Decision:
    """Due when never published, the heartbeat elapsed, or any output's forecast moved beyond
    the threshold from its on-chain answer.

    Never due for data that is not newer than what is on chain (the contract would reject it).
    """
    if onchain is None or onchain.updated_at == 0:
        return Decision(feed, True, "first value")
    if observed_at <= onchain.observed_at:
        return Decision(feed, False, "no newer candle than on chain")
    age = now - onchain.updated_at
    if age >= heartbeat_seconds:
        return Decision(feed, True, f"heartbeat ({age:.0f}s >= {heartbeat_seconds:.0f}s)")
    moved = max(deviation_bps(f, a, floor) for f, a in zip(forecasts, onchain.answers, strict=True))
    if moved >= threshold_bps:
        return Decision(feed, True, f"deviation {moved:.0f} bps >= {threshold_bps:.0f} bps")
    return Decision(feed, False, f"within {threshold_bps:.0f} bps ({moved:.0f}), heartbeat ok")
