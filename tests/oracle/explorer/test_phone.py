"""The explorer on a phone (390 CSS px, headless Chromium) against the chain with real proved
rounds: nothing scrolls sideways, addresses stay on one line and link to their entry, charts
show dates and whole titles in human units, each feed names its model and attesters, and
freshness follows the feed's own maxAge. Screenshots: results/explorer/phone-<page>.png."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from oracle.chain.contracts import feed_id
from oracle.explorer.reader import LOG_VOL, VAR, duration
from oracle.explorer.site import MIN_SPAN, write_static_site
from tests.oracle.explorer.conftest import (
    FEEDS,
    MAX_AGE,
    PHONE,
    SCREENSHOTS,
    Published,
    oracle_answer,
)

pytestmark = pytest.mark.slow

PAGES = {"feeds": "/", "reports": "/reports", "models": "/models", "health": "/health",
         "addresses": "/addresses"}  # fmt: skip
DATE_TICK = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{2}")


def _charts_drawn(page: Any) -> list[str]:
    ids = page.evaluate("[...document.querySelectorAll('.chart')].map(e => e.id)")
    for chart in ids:
        page.wait_for_selector(f"#{chart} .main-svg")
    return ids


def _hex_lines(page: Any) -> list[dict[str, Any]]:
    """Every shortened address or hash on the page: its text, title and line boxes."""
    return page.evaluate(
        "[...document.querySelectorAll('code.hex')].map(e => ({text: e.innerText, "
        "title: e.title, lines: e.getClientRects().length, "
        "height: e.getBoundingClientRect().height, shown: e.offsetParent !== null}))"
    )


def _outside_the_chart(page: Any, chart: str) -> list[str]:
    """Texts of a plotly chart (titles, tick labels) that stick out of its box: clipped."""
    return page.evaluate(
        """id => { const box = document.getElementById(id).getBoundingClientRect();
        return [...document.querySelectorAll(`#${id} .main-svg text`)]
          .filter(t => t.textContent.trim())
          .filter(t => { const r = t.getBoundingClientRect();
            return r.left < box.left - 0.5 || r.right > box.right + 0.5
                || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5; })
          .map(t => t.textContent); }""",
        chart,
    )


def test_no_page_scrolls_sideways_and_addresses_stay_on_one_line(
    published: Published, explorer: str, phone: Any
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in PAGES.items():
        phone.goto(explorer + path)
        _charts_drawn(phone)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (name, width)
        hexes = [h for h in _hex_lines(phone) if h["shown"]]
        assert hexes, name
        for h in hexes:
            assert h["lines"] == 1 and h["height"] < 24, (name, h)  # one line box: not wrapped
            assert h["text"] == h["title"] and h["text"].startswith("0x"), (name, h)
        phone.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True)


def test_addresses_are_links_to_their_entry(published: Published, explorer: str,
                                           phone: Any) -> None:  # fmt: skip
    phone.goto(explorer + "/reports")
    links = phone.locator("a.addr")
    assert links.count() > 0
    transmitter = phone.locator(f'a.addr:has(code[title="{published.transmitter}"])').first
    assert transmitter.inner_text() == published.transmitter  # the whole value, for copying
    transmitter.click()
    phone.wait_for_url(re.compile(r"/addresses#addr-0x"))
    row = phone.locator("tr:target")
    assert row.get_attribute("data-address") == published.transmitter
    assert "transmitted report 1" in row.locator("td.roles").inner_text()
    # Every address any page shows has its entry (no dead anchor).
    targets = set()
    for path in PAGES.values():
        phone.goto(explorer + path)
        targets |= set(phone.evaluate("[...document.querySelectorAll('a.addr')].map(a => a.hash)"))
    phone.goto(explorer + "/addresses")
    ids = set(phone.evaluate("[...document.querySelectorAll('tr[id]')].map(r => '#' + r.id)"))
    model_anchors = {t for t in targets if t.startswith("#model-")}
    assert targets - model_anchors <= ids and len(targets - model_anchors) >= 5
    phone.goto(explorer + "/models")
    models = set(
        phone.evaluate("[...document.querySelectorAll('section[id]')].map(s => '#' + s.id)")
    )
    assert model_anchors and model_anchors <= models


def test_feed_shows_its_model_and_the_current_attesters(published: Published, explorer: str,
                                                        phone: Any) -> None:  # fmt: skip
    attesters = list(published.stack.oracle.functions.attesters().call())
    signed_last = published.confirmed[-1].attestation["signers"]
    phone.goto(explorer)
    for name in FEEDS:
        card = phone.locator(f'section[data-feed="{name}"]')
        model = card.locator("td.feed-model")
        assert model.get_attribute("data-model") == published.active_model
        link = model.locator("a.addr")
        assert link.get_attribute("href") == f"/models#model-{published.active_model}"
        assert model.locator(".model-status").inner_text() == "active"
        shown = card.locator("li.attester").evaluate_all("ls => ls.map(l => l.dataset.address)")
        assert shown == attesters
        for a in attesters:
            marked = "signed round" in card.locator(f'li[data-address="{a}"]').inner_text()
            assert marked == (a in signed_last), (name, a)
    card.locator("td.feed-model a.addr").click()
    phone.wait_for_url(re.compile(r"/models#model-"))
    assert phone.locator("section.model:target").get_attribute("data-model") == (
        published.active_model
    )


def test_charts_show_dates_whole_titles_and_human_units(published: Published, explorer: str,
                                                        phone: Any) -> None:  # fmt: skip
    phone.goto(explorer)
    for chart in _charts_drawn(phone):
        ticks = phone.evaluate(
            "id => [...document.querySelectorAll(`#${id} .xtick text`)].map(t => t.textContent)",
            chart,
        )
        assert ticks and all(DATE_TICK.match(t) for t in ticks), (chart, ticks)
        assert _outside_the_chart(phone, chart) == [], chart
        titles = phone.evaluate(
            "id => [...document.querySelectorAll(`#${id} .xtitle, #${id} .annotation-text`)]"
            ".map(t => t.textContent)",
            chart,
        )
        assert any("(UTC)" in t for t in titles), (chart, titles)
    for name in FEEDS:
        chart = f"chart-{feed_id(name).hex()[:12]}"
        ys = phone.evaluate("id => document.getElementById(id).data.map(t => t.y.at(-1))", chart)
        raw = [oracle_answer(published, name, j) / 10**8 for j in range(2)]
        assert ys[0] == pytest.approx(math.exp(raw[0]))  # log vol -> daily vol %
        assert ys[1] == pytest.approx(raw[1])  # VaR in %
        annotations = phone.evaluate(
            "id => document.getElementById(id)._fullLayout.annotations.map(a => a.text)", chart
        )
        assert annotations[0].startswith("volatility, daily %")
        assert annotations[1].startswith("VaR 99 %")


def test_one_round_gets_a_date_range_around_it(published: Published, phone: Any,
                                               tmp_path: Path) -> None:  # fmt: skip
    snapshot = published.reader().snapshot()
    snapshot.feeds = [replace(f, history=f.history[:1], backtest=None) for f in snapshot.feeds]
    phone.goto(write_static_site(snapshot, tmp_path / "site").as_uri())
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for feed in snapshot.feeds:
        chart = f"chart-{feed.id[2:14]}"
        phone.wait_for_selector(f"#{chart} .main-svg")
        start, end = phone.evaluate(
            "id => document.getElementById(id)._fullLayout.xaxis.range"
            ".map(d => Date.parse(d.replace(' ', 'T') + 'Z') / 1000)",
            chart,
        )
        assert end - start == MIN_SPAN and start < feed.history[0].observed_at < end
        ticks = phone.evaluate(
            "id => [...document.querySelectorAll(`#${id} .xtick text`)].map(t => t.textContent)",
            chart,
        )
        assert len(ticks) >= 2 and all(DATE_TICK.match(t) for t in ticks), ticks
        assert _outside_the_chart(phone, chart) == []
    phone.screenshot(path=str(SCREENSHOTS / "phone-one-round.png"), full_page=True)


def test_fresh_follows_each_feeds_max_age_and_says_so(published: Published) -> None:
    snapshot = published.reader().snapshot()
    now = snapshot.oracle.block_time
    for feed in snapshot.feeds:
        assert feed.heartbeat == feed.max_age == MAX_AGE[feed.name]
        assert feed.freshness_rule == "maxAge"
        assert feed.stale == (now - feed.observed_at > MAX_AGE[feed.name])
        kinds = [o.kind for o in feed.outputs]
        assert kinds == [LOG_VOL, VAR]
        daily = math.exp(oracle_answer(published, feed.name, 0) / 10**8)
        assert feed.outputs[0].daily_vol_pct == pytest.approx(daily)
        assert feed.outputs[0].annual_vol_pct == pytest.approx(daily * math.sqrt(252))
    # An explorer-wide --heartbeat shorter than every feed's age overrides maxAge, and says so.
    youngest = min(now - f.observed_at for f in snapshot.feeds)
    override = published.reader(heartbeat=youngest - 1).snapshot()
    assert all(f.stale and f.freshness_rule == "--heartbeat" for f in override.feeds)


def test_freshness_threshold_is_on_the_feed_page(published: Published, explorer: str,
                                                 phone: Any) -> None:  # fmt: skip
    phone.goto(explorer)
    for name in FEEDS:
        rule = phone.locator(f'section[data-feed="{name}"] .freshness-rule')
        assert rule.get_attribute("data-threshold") == str(MAX_AGE[name])
        text = rule.inner_text()
        assert f"at most {duration(MAX_AGE[name])} old" in text and "maxAge" in text
