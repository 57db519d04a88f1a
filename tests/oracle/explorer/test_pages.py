"""What a person sees in the explorer, in headless Chromium, against a chain with real proved
rounds. Each page's screenshot goes to results/explorer/<page>.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oracle.chain.contracts import feed_id
from oracle.explorer.reader import units
from oracle.explorer.site import write_static_site
from tests.oracle.explorer.conftest import (
    FEEDS,
    MAX_AGE,
    ROUNDS,
    SCREENSHOTS,
    Published,
    oracle_answer,
)

pytestmark = pytest.mark.slow


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _chart_points(page: Any, feed: str) -> list[int]:
    chart = f"chart-{feed_id(feed).hex()[:12]}"
    page.wait_for_selector(f"#{chart} .main-svg")  # drawn by plotly.js
    return page.evaluate("id => document.getElementById(id).data.map(t => t.x.length)", chart)


def _feed_values_equal_latest_round_data(page: Any, published: Published) -> None:
    for name in FEEDS:
        card = page.locator(f'section[data-feed="{name}"]')
        for j in range(2):  # the oracle's raw answer (an adapter may publish other units)
            shown = card.locator(f'tr[data-output="{j}"] td.answer').inner_text()
            assert shown == units(oracle_answer(published, name, j), 8), (name, j)
            assert card.locator(f'tr[data-output="{j}"] td.adapter').inner_text() == (
                published.stack.adapters[f"{name}/out{j}"].address
            )
        # the feed's own round number: what its adapters' latestRoundData returns as roundId
        feed_round = published.stack.oracle.functions.feedRounds(feed_id(name)).call()
        assert feed_round == ROUNDS  # every report carried every feed
        assert card.locator("td.round-id").inner_text() == str(feed_round)
        assert _chart_points(page, name) == [ROUNDS, ROUNDS]  # one point per round per output


def test_feeds_show_latest_round_data_history_and_turn_stale_live(
    published: Published, explorer: str, page: Any
) -> None:
    page.goto(explorer)
    _feed_values_equal_latest_round_data(page, published)
    for name in FEEDS:
        assert page.locator(f'section[data-feed="{name}"] .freshness').inner_text() == "fresh"

    # Time passes on chain: BTC-USD (heartbeat = its 6-day maxAge) goes stale, ETH-USD (30 days)
    # does not. The open page notices on its own: no reload (the marker survives).
    page.evaluate("window.__notReloaded = true")
    observed = published.stack.oracle.functions.feedState(feed_id("BTC-USD")).call()[1]
    now = published.w3.eth.get_block("latest")["timestamp"]
    published.warp(MAX_AGE["BTC-USD"] - (now - observed) + 3_600)
    page.wait_for_selector('section[data-feed="BTC-USD"] .freshness.stale', timeout=20_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator('section[data-feed="ETH-USD"] .freshness').inner_text() == "fresh"
    assert "is-stale" in (page.locator('section[data-feed="BTC-USD"]').get_attribute("class"))
    _feed_values_equal_latest_round_data(page, published)  # charts redrawn after the refresh
    _shot(page, "feeds")


def test_reports_show_each_accepted_report_and_its_signers(
    published: Published, explorer: str, page: Any
) -> None:
    page.goto(f"{explorer}/reports")
    assert page.locator("tr[data-report]").count() == ROUNDS
    for rnd in published.confirmed:  # the node's own record of what it submitted
        row = page.locator(f'tr[data-tx="{rnd.tx_hash}"]')
        assert row.locator("td.gas").inner_text() == f"{rnd.gas_used:,}"
        signers = row.locator("code.signer").all_inner_texts()
        assert sorted(signers) == sorted(rnd.attestation["signers"])
        assert row.locator("td.feeds").inner_text() == ", ".join(FEEDS)
    _shot(page, "reports")


def test_models_show_the_registry_and_mark_the_retired_model(
    published: Published, explorer: str, page: Any
) -> None:
    page.goto(f"{explorer}/models")
    retired = page.locator(f'section[data-model="{published.retired_model}"]')
    active = page.locator(f'section[data-model="{published.active_model}"]')
    assert retired.locator(".model-status").inner_text() == "retired"
    assert active.locator(".model-status").inner_text() == "active"
    assert active.locator("td.providers").inner_text() == "provider-a, provider-b, provider-c"
    assert active.locator("td.aggregation").inner_text() == "trimmed-mean"
    assert "matches the registry" in active.inner_text()
    _shot(page, "models")


def test_health_shows_the_rejected_submission_with_its_custom_error(
    published: Published, explorer: str, page: Any
) -> None:
    page.goto(f"{explorer}/health")
    row = page.locator(f'tr[data-round="{published.rejected.id}"]')
    assert row.locator("td.error-name").inner_text() == "UnauthorizedTransmitter"
    assert published.transmitter in row.locator("td.error-args").inner_text()
    _shot(page, "health")


def test_static_snapshot_works_from_files(published: Published, page: Any, tmp_path: Path) -> None:
    index = write_static_site(published.reader().snapshot(), tmp_path / "site")
    page.goto(index.as_uri())
    _feed_values_equal_latest_round_data(page, published)  # plotly.js from assets/, offline
    page.click("text=Models")
    assert page.url.endswith("/models.html")
    retired = page.locator(f'section[data-model="{published.retired_model}"] .model-status')
    assert retired.inner_text() == "retired"
