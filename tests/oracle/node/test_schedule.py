"""The Chainlink update rule: heartbeat or deviation, never for data not newer than on chain."""

import pytest

from oracle.node.schedule import OnChainValue, decide, deviation_bps

NOW = 1_700_000_000.0


def _decide(forecast: float, onchain: OnChainValue | None, observed_at: int = 1_699_999_000):
    """One output moves to `forecast`; the other stays where it is on chain (2.0)."""
    return decide("ETH", [2.0, forecast], observed_at, onchain, NOW, heartbeat_seconds=3600,
                  threshold_bps=50)  # fmt: skip


def test_first_value_is_due() -> None:
    assert _decide(1.0, None).due


def test_heartbeat_elapsed_is_due_even_without_deviation() -> None:
    onchain = OnChainValue((2.0, 1.0), observed_at=1_690_000_000, updated_at=int(NOW) - 3600)
    d = _decide(1.0, onchain)
    assert d.due and "heartbeat" in d.reason


def test_deviation_beyond_threshold_is_due() -> None:
    onchain = OnChainValue((2.0, 1.0), observed_at=1_690_000_000, updated_at=int(NOW) - 60)
    assert not _decide(1.004, onchain).due  # 40 bps
    d = _decide(1.006, onchain)  # 60 bps
    assert d.due and "deviation" in d.reason


def test_not_due_when_data_is_not_newer_than_on_chain() -> None:
    onchain = OnChainValue((2.0, 1.0), observed_at=1_699_999_000, updated_at=int(NOW) - 10_000)
    assert not _decide(5.0, onchain, observed_at=1_699_999_000).due


def test_deviation_uses_a_floor_near_zero() -> None:
    assert deviation_bps(0.0001, 0.0, floor=0.01) == pytest.approx(100)
    assert deviation_bps(-1.1, -1.0, floor=1e-6) == pytest.approx(1000)
