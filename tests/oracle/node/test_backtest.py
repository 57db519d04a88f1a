"""The on-chain VaR backtest fed by the real node, attesters and EZKL proofs on anvil: days whose
loss exceeds the VaR published the day before turn the feed's zone yellow, then red."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from models.data import load_ohlc_csv
from oracle.attest.report import close_time
from oracle.chain.contracts import feed_id, read_backtest
from tests.oracle.node.conftest import FEEDS, Deployment, onchain_rounds
from tests.oracle.node.market import append_candle, write_candles
from tests.oracle.node.test_runner import make_node

pytestmark = pytest.mark.slow


def next_day(path: Path, return_pct: float) -> None:
    """Append the next daily bar with a close `return_pct` percent (log) above the last."""
    last = path.read_text().strip().splitlines()[-1].split(",")
    day = dt.date.fromisoformat(last[0]) + dt.timedelta(days=1)
    open_ = float(last[4])
    close = open_ * math.exp(return_pct / 100)
    high, low = max(open_, close) * 1.001, min(open_, close) * 0.999
    append_candle(path, 0, f"{day},{open_:.6f},{high:.6f},{low:.6f},{close:.6f},1000\n")


def test_breach_days_turn_the_zone_yellow_then_red(deployment: Deployment) -> None:
    d = deployment
    feed = FEEDS[0]
    path = d.data_dir / f"{feed}.csv"
    # History that ends 8 days ago, so the 6 days appended below are all in the past.
    write_candles(path, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=8), days=40, seed=3)
    node = make_node(d)
    assert node.tick().round.state == "confirmed"
    oracle = d.stack.oracle
    backtest = read_backtest(oracle, feed_id(feed))
    assert (backtest.lifetime_scored_days, backtest.gaps, backtest.zone) == (0, 0, "green")

    # Each day's return is set against the VaR the feed published the day before: 1 point
    # beyond it (a breach) or 1 point inside it (none).
    zones = []
    for breach in (False, True, True, True):
        var_answer = oracle.functions.feedRound(feed_id(feed), 0).call()[4][1]  # latest, output 1
        decimals = oracle.functions.feeds(feed_id(feed)).call()[4]
        var_pct = var_answer / 10**decimals
        next_day(path, -var_pct - 1 if breach else -var_pct + 1)
        result = node.tick()
        assert result.round is not None and result.round.state == "confirmed", result
        zones.append(read_backtest(oracle, feed_id(feed)))

    assert [z.lifetime_scored_days for z in zones] == [1, 2, 3, 4]
    assert [z.breaches for z in zones] == [0, 1, 2, 3]
    # Scaled Basel zones: 1 breach in 2 days is yellow, 3 in 4 days red.
    assert [z.zone for z in zones] == ["green", "yellow", "yellow", "red"]
    assert zones[-1].gaps == 0 and onchain_rounds(d)[0] == 5
    events = oracle.events.VaRBreached().get_logs(from_block=0)
    assert len(events) == 3 and all(e.args.feedId == feed_id(feed) for e in events)

    # A day the feed did not publish: the next return is not scored but counted as a gap.
    next_day(path, 0.1)
    next_day(path, 0.2)
    result = node.tick()
    assert result.round is not None and result.round.state == "confirmed"
    after = read_backtest(oracle, feed_id(feed))
    assert after.gaps == 1 and after.lifetime_scored_days == 4
    gap = oracle.events.BacktestGap().get_logs(from_block=0)[-1].args
    assert gap.lastObservedAt < gap.previousObservedAt
    assert gap.previousObservedAt == close_time(load_ohlc_csv(path, calendar="daily"), back=1)
