"""The one-command demo, end to end on a small budget (1 federated round).

Real Flower simulation, real EZKL circuit and proofs, real anvil, real contracts, four attester
processes (one with a slightly different copy of the data) and the node publishing 31 business
days, one round a day on a warped chain clock; run as `proofcast demo`, whose output is checked
too (quiet, no duplicated lines, no deprecation notices, a summary with marks and addresses).
"""

import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from circuits.layout import InstanceLayout
from models.data import load_ohlc_csv
from models.evaluation import var_backtest, var_breaches
from oracle.attest.processes import START_TIMEOUT_ENV, AttesterProcesses
from oracle.chain.anvil import free_loopback_port
from oracle.chain.contracts import to_feed_units
from oracle.childlog import start_timeout
from oracle.demo import (
    FEED_DECIMALS,
    PUBLISHED_DAYS,
    VAR_OUTPUT,
    DemoReport,
    DemoSettings,
    consumer_facing,
)
from oracle.explorer.reader import units

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LOG_PREFIX = re.compile(r"^(\[[0-9/: ]+\])?\s*(DEBUG|INFO|WARNING|ERROR)?\s*:?\s*")
BORDER = re.compile(r"^[\s─━│┃┏┓┗┛┡┩┣┫╇╋┳┻└┘┌┐├┤┼┬┴]*$")


def _demo_cli(workdir: Path, results: Path) -> str:
    """`proofcast demo --rounds 1` as a user runs it; its whole output (stdout and stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    env.pop("PROOFCAST_PRIVATE_KEY", None)
    run = subprocess.run(
        [sys.executable, "-m", "oracle.cli", "demo", "--rounds", "1",
         "--workdir", str(workdir), "--results", str(results)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    output = run.stdout + run.stderr
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "demo-output.txt").write_text(output)  # kept with the run's other artifacts
    assert run.returncode == 0, output
    return output


def _message(line: str) -> str:
    """A printed line without colours, a log timestamp or level (Flower's own handler and the
    root's printed the same message with different prefixes)."""
    return LOG_PREFIX.sub("", ANSI.sub("", line)).strip()


@pytest.mark.slow
def test_demo_publishes_every_feed_and_sets_a_margin(tmp_path: Path) -> None:
    settings = DemoSettings(workdir=tmp_path / "demo", results=tmp_path / "results", rounds=1)
    output = _demo_cli(settings.workdir, settings.results)
    report = DemoReport.from_json(settings.results / "demo.json")

    # Quiet: one screen, each line once, no deprecation notices or per-round Flower lines.
    lines = [line for line in output.splitlines() if line.strip()]
    print(f"`proofcast demo` printed {len(output.splitlines())} lines")
    assert len(output.splitlines()) <= 70, output
    messages = Counter(_message(line) for line in lines if not BORDER.match(line))
    assert [m for m, n in messages.items() if n > 1 and m] == [], output
    for noise in ("DeprecationWarning", "FutureWarning", "DEPRECATED", "configure_train",
                  "round 1:", "ClientAppActor"):  # fmt: skip
        assert noise not in output, output
    _summary_says_what_it_did(report, output, settings.results / "demo.md")

    assert report.federated_round == 1
    # Private by default: record-level DP-SGD under SecAgg+, its epsilon in the registry.
    assert report.secagg and report.aggregation == "fedavg+server-adam"
    assert report.record_epsilon is not None and 0 < report.record_epsilon <= 8
    assert report.on_chain_record_epsilon == pytest.approx(report.record_epsilon, abs=1e-3)
    assert report.on_chain_delta == report.dp_delta == 1e-5
    assert f"ε {report.on_chain_record_epsilon:.3f}" in output
    # each provider's own receipt: the same epsilon, and the model it led to is the registered one
    from federated.receipt import load_receipt

    for provider in settings.providers:
        receipt = load_receipt(settings.workdir / "federated" / "receipts" / f"{provider}.json")
        assert [r.round for r in receipt.rounds] == [1]
        assert receipt.epsilon == pytest.approx(report.record_epsilon)
        assert receipt.rounds[-1].contributed_to == report.model_hash
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

    md = settings.results / "demo.md"
    assert report.model_hash in md.read_text()
    assert (settings.results / "demo_qlike.png").stat().st_size > 0
    # The explorer's static snapshot of the demo chain, rendered from the same templates.
    explorer = settings.results / "explorer"
    feeds_html = (explorer / "index.html").read_text()
    for f in report.feeds:
        assert f'data-feed="{f.feed}"' in feeds_html
        assert units(f.on_chain_answer, FEED_DECIMALS) in feeds_html
    models_html = (explorer / "models.html").read_text()
    assert report.model_hash in models_html
    # the registry's record-level epsilon and delta, as the explorer shows them
    assert f'<td class="dp-record">{report.on_chain_record_epsilon:.3f}</td>' in models_html
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


def _summary_says_what_it_did(report: DemoReport, output: str, md: Path) -> None:
    """Human units, marks that follow from the numbers, where the system runs: printed and in
    results/demo.md."""
    text = md.read_text()
    for where in (output, text):
        assert "ln(daily vol %)" in where and "annual = daily x sqrt(252)" in where
        assert f"{FEED_DECIMALS} decimals" in where
        assert report.rpc_url.startswith("http://127.0.0.1:") and report.rpc_url in where
        assert f"chain id {report.chain_id}" in where and report.chain_id == 31337
    names = set(report.contracts)
    assert {"RiskOracle", "verifier", "MarginEngine"} <= names
    for f in report.feeds:  # VaR; log vol raw, daily % and annualised % of every feed
        assert f"adapter {f.feed}/var99_pct" in names
        assert f"adapter {f.feed}/log_vol_pct:daily_pct" in names
        assert sum(name.startswith(f"adapter {f.feed}/") for name in names) == 4
    assert len(set(report.contracts.values())) == len(report.contracts)
    for name, address in report.contracts.items():
        assert re.fullmatch(r"0x[0-9a-fA-F]{40}", address)
        assert address in text
        assert (address in output) == consumer_facing(name)  # the console: what consumers use

    checks = 0
    for f in report.feeds:
        assert f.daily_vol_pct == pytest.approx(np.exp(f.log_vol_pct))
        assert f.annual_vol_pct == pytest.approx(f.daily_vol_pct * np.sqrt(252))
        assert f.on_chain_value == pytest.approx(f.var99_pct, abs=1e-3)
        cells = [
            line.strip("| ").split(" | ")
            for line in text.splitlines()
            if line.startswith(f"| {f.feed} |")
        ]
        values, vol, var = cells[:3]  # the three summary tables, in order
        assert values[1:4] == [
            f"{f.daily_vol_pct:.3f}", f"{f.annual_vol_pct:.1f}", f"{f.var99_pct:.3f}"
        ]  # fmt: skip
        assert values[4] == f"{f.on_chain_answer} = {f.on_chain_value:.8f} %"
        for cell, baseline in zip(vol[2:], (f.qlike_ewma, f.qlike_garch, f.qlike_har),
                                  strict=True):  # fmt: skip
            assert cell == f"{baseline:.3f} {'✓' if f.qlike_model < baseline else '✗'}"
        assert var[2].endswith("✓" if f.var_kupiec_p >= 0.05 else "✗")
        assert var[3].endswith("✓" if f.var_christoffersen_p >= 0.05 else "✗")
        assert var[4] == f"{f.var_zone} {'✓' if f.var_zone == 'green' else '✗'}"
        assert var[5].endswith("✓" if f.chain_zone == "green" else "✗")
        checks += sum(f.checks().values())
    tally = f"checks: {checks} of {7 * len(report.feeds)} pass"
    assert tally in text and tally in output


def test_a_readiness_wait_that_gives_up_names_the_log_and_shows_its_tail(tmp_path: Path) -> None:
    procs = AttesterProcesses([], "unused", tmp_path)
    log = procs.log_path(0)
    script = "import time\nfor i in range(30): print(f'line {i}')\ntime.sleep(60)"
    with log.open("wb") as out:
        procs.procs.append(
            subprocess.Popen([sys.executable, "-u", "-c", script], stdout=out, stderr=out)
        )
    url = f"http://127.0.0.1:{free_loopback_port()}"  # nothing ever listens there
    try:
        with pytest.raises(RuntimeError) as failed:
            procs.wait_ready(0, url, timeout=3)
    finally:
        procs.stop()
    message = str(failed.value)
    assert f"attester 1 not ready at {url} after 3 s" in message
    assert START_TIMEOUT_ENV in message and str(log) in message
    assert "| line 29" in message and "| line 10" in message  # the last 20 lines
    assert "| line 9" not in message


def test_an_attester_that_exits_at_start_names_its_log_and_why(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-config.toml"
    with pytest.raises(RuntimeError) as failed, AttesterProcesses([missing], "pw", tmp_path):
        pass
    message = str(failed.value)
    assert "attester 1 exited with code 1" in message
    assert str(tmp_path / "attester-1.log") in message
    assert str(missing.name) in message  # the attester's own error, written unbuffered


def test_the_start_timeout_comes_from_the_environment_or_scales(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(START_TIMEOUT_ENV, "7.5")
    assert start_timeout(START_TIMEOUT_ENV, 180.0, concurrent=4) == 7.5
    monkeypatch.setenv(START_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match=START_TIMEOUT_ENV):
        start_timeout(START_TIMEOUT_ENV, 180.0)
    monkeypatch.delenv(START_TIMEOUT_ENV)
    cores = os.cpu_count() or 1
    assert start_timeout(START_TIMEOUT_ENV, 10.0, concurrent=4 * cores) >= 40.0
    assert start_timeout(START_TIMEOUT_ENV, 10.0) >= 10.0


def test_demo_logging_prints_flower_once_and_only_warnings_unless_verbose() -> None:
    import io
    import logging

    import flwr.common.logger  # Flower's own console handler

    from oracle.demo import demo_logging

    root, flwr, node = (logging.getLogger(n) for n in ("", "flwr", "oracle.node"))
    printed = io.StringIO()
    handler, level = logging.StreamHandler(printed), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Flower's handler prints to the stderr of its import time; here into the same buffer
    streams = {
        h: h.setStream(printed) for h in flwr.handlers if isinstance(h, logging.StreamHandler)
    }
    assert streams

    def emit() -> str:
        flwr.warning("DEPRECATED FEATURE: The `run_simulation` function is deprecated and ...")
        flwr.info("configure_train: Sampled 5 nodes (out of 5)")
        flwr.warning("a Flower warning")
        node.info("a node line")
        node.warning("a node warning")
        text = printed.getvalue()
        printed.seek(0)
        printed.truncate()
        return text

    try:
        with demo_logging(verbose=False):
            quiet = emit()
        with demo_logging(verbose=True):
            verbose = emit()
        assert flwr.propagate  # restored
        restored = emit()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h, stream in streams.items():
            h.setStream(stream)
    assert quiet.count("a Flower warning") == 1 and quiet.count("a node warning") == 1
    for line in ("run_simulation", "configure_train", "a node line"):
        assert line not in quiet
    assert verbose.count("configure_train") == 1 and verbose.count("a node line") == 1
    assert "run_simulation" not in verbose
    assert restored.count("configure_train") == 2  # outside the demo: Flower's and the root's
