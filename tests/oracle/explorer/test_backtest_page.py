"""The Feeds page's VaR backtest, in headless Chromium: the zone and counts are the oracle's
`backtest()`, the chart marks exactly the rounds of its VaRBreached and BacktestGap events, on a
date axis. The fixture's third round is a breach day for ETH-USD and a missed day for BTC-USD."""

from __future__ import annotations

import math
from typing import Any

import pytest

from models.evaluation import traffic_light
from oracle.chain.contracts import feed_id, read_backtest
from oracle.explorer.reader import utc
from tests.oracle.explorer.conftest import (
    BREACH_FEED,
    FEEDS,
    GAP_FEED,
    ROUNDS,
    SCREENSHOTS,
    Published,
    oracle_answer,
)

pytestmark = pytest.mark.slow


def _trace(page: Any, chart: str, name: str) -> dict[str, Any]:
    page.wait_for_selector(f"#{chart} .main-svg")  # drawn by plotly.js
    return page.evaluate(
        "([id, name]) => { const t = document.getElementById(id).data"
        ".find(t => t.name.startsWith(name)); return {x: t.x, y: t.y, rounds: t.customdata}; }",
        [chart, name],
    )


def _event_rounds(published: Published, event: str, name: str) -> list[int]:
    logs = getattr(published.stack.oracle.events, event)().get_logs(from_block=0)
    return [int(e.args.roundId) for e in logs if bytes(e.args.feedId) == feed_id(name)]


def _observed_at(published: Published, round_id: int) -> str:
    """The observation time of `round_id` as the node submitted it (the node's own record)."""
    rnd = published.confirmed[(round_id >> 8) - 1]
    return utc(rnd.attestation["report"]["observed_at"][round_id & 0xFF]).removesuffix(" UTC")


def test_backtest_counts_and_markers_equal_the_oracle(
    published: Published, explorer: str, page: Any
) -> None:
    page.goto(explorer)
    for name in FEEDS:
        ledger = read_backtest(published.stack.oracle, feed_id(name))
        card = page.locator(f'section[data-feed="{name}"] .backtest')
        assert card.locator(".badge.zone").inner_text() == ledger.zone
        shown = {
            cls: int(card.locator(f".{cls}").inner_text())
            for cls in ("scored-days", "breaches", "lifetime-days", "lifetime-breaches", "gaps")
        }
        assert shown == {
            "scored-days": ledger.scored_days,
            "breaches": ledger.breaches,
            "lifetime-days": ledger.lifetime_scored_days,
            "lifetime-breaches": ledger.lifetime_breaches,
            "gaps": ledger.gaps,
        }
        chart = f"backtest-{feed_id(name).hex()[:12]}"
        breaches = _trace(page, chart, "breach")
        gaps = _trace(page, chart, "missed day")
        assert len(breaches["x"]) == ledger.lifetime_breaches
        assert len(gaps["x"]) == ledger.gaps
        assert breaches["rounds"] == _event_rounds(published, "VaRBreached", name)
        assert gaps["rounds"] == _event_rounds(published, "BacktestGap", name)
        assert breaches["x"] == [_observed_at(published, r) for r in breaches["rounds"]]
        axis = page.evaluate("id => document.getElementById(id)._fullLayout.xaxis.type", chart)
        assert axis == "date"

    # What the fixture set up: the third round is a breach for one feed (two scored days, its
    # zone Basel's scaled one) and a missed day for the other.
    breach = read_backtest(published.stack.oracle, feed_id(BREACH_FEED))
    assert (breach.scored_days, breach.gaps) == (2, 0) and breach.breaches >= 1
    assert breach.zone == traffic_light(breach.scored_days, breach.breaches) != "green"
    third = ROUNDS << 8 | FEEDS.index(BREACH_FEED)
    assert third in _event_rounds(published, "VaRBreached", BREACH_FEED)
    gap = read_backtest(published.stack.oracle, feed_id(GAP_FEED))
    assert (gap.scored_days, gap.gaps) == (1, 1)
    missed = ROUNDS << 8 | FEEDS.index(GAP_FEED)
    assert _event_rounds(published, "BacktestGap", GAP_FEED) == [missed]
    # The breach marker sits at the realised return, below the band (minus the VaR before it).
    chart = f"backtest-{feed_id(BREACH_FEED).hex()[:12]}"
    band = _trace(page, chart, "VaR 99 %")
    marked = _trace(page, chart, "breach")
    at = band["x"].index(marked["x"][0])
    assert marked["y"][0] < band["y"][at]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f'section[data-feed="{BREACH_FEED}"]').screenshot(
        path=str(SCREENSHOTS / "feed-backtest.png")
    )


def test_volatility_in_daily_and_annualised_percent(published: Published, explorer: str,
                                                    page: Any) -> None:  # fmt: skip
    page.goto(explorer)
    for name in FEEDS:
        log_vol = oracle_answer(published, name, 0) / 10**8  # the oracle's raw answer
        daily = math.exp(log_vol)  # output 0: log of the daily volatility in percent
        cell = page.locator(f'section[data-feed="{name}"] tr[data-output="0"] td.human')
        assert cell.inner_text() == (
            f"{daily:.2f} % daily · {daily * math.sqrt(252):.1f} % annualised volatility"
        )
