"""The one-command demo, end to end on a small budget (1 federated round, 2 local epochs).

Real Flower simulation, real EZKL circuit and proofs, real anvil, real contracts, four attester
processes (one with a slightly different copy of the data) and the node publishing 31 business
days, one round a day on a warped chain clock.
"""

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from circuits.layout import InstanceLayout
from models.data import load_ohlc_csv
from models.evaluation import var_backtest, var_breaches
from oracle.chain.contracts import to_feed_units
from oracle.demo import (
    FEED_DECIMALS,
    PUBLISHED_DAYS,
    VAR_OUTPUT,
    DemoReport,
    DemoSettings,
    run_demo,
    write_report,
)
from oracle.explorer.reader import units


@pytest.mark.slow
def test_demo_publishes_every_feed_and_sets_a_margin(tmp_path: Path) -> None:
    settings = DemoSettings(
        workdir=tmp_path / "demo", results=tmp_path / "results", rounds=1, local_epochs=2
    )
    report = run_demo(settings)

    assert report.federated_round == 1
    assert report.num_feeds == len(settings.feeds) == len(report.feeds)
    assert report.submit_gas > 0 and report.gas_per_feed == report.submit_gas // report.num_feeds
    layout = InstanceLayout.read(settings.workdir / "circuit" / "layout.json")
    for feed in report.feeds:
        # What the chain stores is exactly the proved VaR, decoded at the circuit's scale.
        fixed_point = round(feed.var99_pct * 2**layout.output_scale)
        assert feed.on_chain_answer == to_feed_units(
            fixed_point, layout.output_scale, FEED_DECIMALS
        )
        assert feed.on_chain_round == PUBLISHED_DAYS  # the adapter numbers each feed's rounds
        assert 0 < feed.var99_pct < 50
    assert VAR_OUTPUT == 1
    assert not report.margin_used_fallback
    assert report.margin_bps >= 200  # base margin plus a positive VaR term

    assert len(report.attesters) == 4 and report.threshold == 2 and len(report.signers) == 2
    # every attester answered, the one whose data differs by 3 bps (< 10 bps) signed too
    assert len(report.attestation) == 4
    assert all(line.endswith(": signed") for line in report.attestation), report.attestation

    _on_chain_backtest_equals_its_off_chain_twin(report, settings, layout.output_scale)

    md = write_report(report, settings.results)
    assert report.model_hash in md.read_text()
    assert (settings.results / "demo_qlike.png").stat().st_size > 0
    # The explorer's static snapshot of the demo chain, rendered from the same templates.
    explorer = settings.results / "explorer"
    feeds_html = (explorer / "index.html").read_text()
    for f in report.feeds:
        assert f'data-feed="{f.feed}"' in feeds_html
        assert units(f.on_chain_answer, FEED_DECIMALS) in feeds_html
    assert report.model_hash in (explorer / "models.html").read_text()
    assert "setPermissionless" in (explorer / "health.html").read_text()  # the queued change
    for f in report.feeds:  # the feed's backtest as the oracle kept it
        card = feeds_html.split(f'data-feed="{f.feed}"', 1)[1].split("</section>", 1)[0]
        shown = dict(re.findall(r'<span class="([a-z-]+)">(\d+)</span>', card))
        assert shown == {
            "scored-days": str(f.chain_scored_days),
            "breaches": str(f.chain_breaches),
            "lifetime-days": str(f.chain_scored_days),
            "lifetime-breaches": str(f.chain_lifetime_breaches),
            "gaps": str(f.chain_gaps),
        }
        assert f'data-zone="{f.chain_zone}"' in card
    assert (explorer / "assets" / "plotly.min.js").is_file()

    # A corrupt 10x tick on the last bar: the circuit itself bounds what a proof can carry.
    from circuits.artifacts import CircuitArtifacts
    from circuits.pipeline import prove
    from federated.manifest import load_round_model
    from models.data import load_ohlc_csv
    from models.features import latest_features
    from models.risk import RiskModel

    series = load_ohlc_csv(settings.workdir / "market" / f"{settings.feeds[0]}.csv")
    spike = replace(
        series,
        high=np.r_[series.high[:-1], series.close[-2] * 10],
        close=np.r_[series.close[:-1], series.close[-2] * 10],
    )
    rows = np.stack([latest_features(spike)] + [latest_features(series)] * (layout.num_feeds - 1))
    proof = prove(CircuitArtifacts(settings.workdir / "circuit"), rows, "ten-x-tick")
    risk = load_round_model(settings.workdir / "federated", 1, "risk", RiskModel())
    proved_var = layout.float_outputs(proof.instances)[0][VAR_OUTPUT]
    assert proved_var <= float(risk.y_hi) + 2**-layout.output_scale
    assert proved_var == pytest.approx(float(risk.predict(rows[:1])[0]), abs=0.05)


def _on_chain_backtest_equals_its_off_chain_twin(
    report: DemoReport, settings: DemoSettings, output_scale: int
) -> None:
    """RiskOracle.backtest() after the demo equals models.evaluation.var_backtest on the same
    published VaRs and the realised returns recomputed from the node's market files."""
    assert report.days_published == PUBLISHED_DAYS >= 31
    for f in report.feeds:
        assert len(f.days) == PUBLISHED_DAYS
        bars = load_ohlc_csv(settings.workdir / "market" / f"{f.feed}.csv")
        close = np.asarray(bars.close[-(PUBLISHED_DAYS + 1) :], dtype=np.float64)
        returns = 100.0 * np.diff(np.log(close))  # each published day's log return, percent
        # as the report carries it: fixed point at the circuit's output scale
        fixed = np.round(returns * 2**output_scale) / 2**output_scale
        assert [d.realized_return_pct for d in f.days] == fixed.tolist()
        var = np.array([d.var99_pct for d in f.days])
        twin = var_backtest(fixed[1:], var[:-1])  # day t's VaR against day t + 1's return
        assert f.chain_scored_days == twin["days"] == PUBLISHED_DAYS - 1 >= 30
        assert f.chain_gaps == 0
        assert f.chain_lifetime_breaches == f.chain_breaches == twin["breaches"]
        assert f.chain_zone == twin["zone"]
        # breach by breach: the oracle's VaRBreached events are the rule applied off chain
        breached = [d.breached for d in f.days[1:]]
        assert breached == var_breaches(fixed[1:], var[:-1]).tolist()
        assert not f.days[0].breached
