"""`proofcast demo`: the whole system from nothing, on bundled data and a local chain.

bundled series split across providers -> Flower federated training (simulation engine) ->
OracleModel (volatility + 99% VaR per feed) -> ONNX -> EZKL circuit for K feeds -> anvil ->
reusable verifier + RiskOracle + one Chainlink-style adapter per feed + MarginEngine ->
register the federated model's hash -> four independent attester processes (each with its own
copy of the data, one slightly different) -> the oracle node proposes the round, collects f+1
signatures, proves every feed in one batch and publishes -> MarginEngine reads a feed through
AggregatorV3Interface and sets a margin.

Every step is a library call that the tests also exercise; this module only wires them up,
measures them and writes a report.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from eth_utils import keccak

from circuits.artifacts import CircuitArtifacts
from circuits.pipeline import CircuitConfig, build_circuit
from federated.config import (
    PUBLISHED_LEARNING_RATE,
    PUBLISHED_LOCAL_EPOCHS,
    PUBLISHED_ROUNDS,
    PUBLISHED_SERVER_LR,
)
from federated.manifest import load_manifest, load_round_model, metrics_hash
from federated.simulation import simulate
from models.data import PriceSeries, load_bundled
from models.evaluation import evaluate, holdout_baselines
from models.features import build_features
from models.identity import model_hash
from models.oracle_model import OUTPUT_NAMES, OracleModel
from models.risk import RiskModel
from models.volatility import VolatilityModel
from oracle.attest.processes import AttesterProcesses, AttesterSpec, write_attester
from oracle.chain.anvil import ANVIL_DEV_KEY
from oracle.chain.client import connect
from oracle.chain.contracts import (
    FeedSpec,
    MarginParams,
    ModelSpec,
    OracleRevert,
    OutputSpec,
    deploy_oracle,
    execute_change,
    latest_round_data,
    queue_change,
    register_model,
    send,
)
from oracle.chain.verifier import deploy_verifier
from oracle.explorer.site import demo_explorer
from oracle.node.config import FeedConfig, NodeConfig
from oracle.node.journal import Journal
from oracle.node.keys import SigningKey
from oracle.node.runner import Node
from oracle.node.sources import CsvDirectorySource
from oracle.selftest import chain_endpoint

log = logging.getLogger(__name__)

# Assets published, one batch proof for all (WTI is not: its recent close-only data has
# multi-day gaps, which the node refuses to prove on).
DEMO_FEEDS = ("sp500", "aapl", "msft", "ibm")
# Data holders: each published feed's owner and a stress scenario, each training on the first 70%
# of its series (the summary scores the last 20%). WTI is no provider: close-only, its realized
# variance is the squared close-to-close return, a far noisier target than the others'
# Garman-Klass one, and pooling it cost every OHLC feed (IBM QLIKE 0.473 with it, 0.420 without).
DEMO_PROVIDERS = ("bundled:sp500", "bundled:aapl", "bundled:msft", "bundled:ibm", "stress:7")
FEED_DECIMALS = 8
VAR_OUTPUT = OUTPUT_NAMES.index("var99_pct")
DAILY_MAX_AGE = 8 * 86_400  # daily candles replayed on whole weeks: the newest is < 8 days old
MARKET_HISTORY_DAYS = 60  # rows of each feed's CSV the node reads (features need 23)
CALIBRATION_ROWS = 128  # recent rows per feed that choose the circuit's lookup ranges
TEST_FRACTION = 0.2  # held-out tail of each feed for the model-vs-baseline summary
ATTESTERS = 4  # n independent attesters, f = 1 of them may be down or lying
THRESHOLD = 2  # f + 1 signatures per report
SKEW_BPS = 3.0  # attester 4's copy of the data differs by this much (tolerance: 10 bps)
# Trust changes wait this long once the oracle has a report (production: 2 days); the demo queues
# one and leaves it pending on the explorer's Health page.
GOVERNANCE_DELAY = 3600


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs on; every field has an embedded default."""

    workdir: Path = Path("build/demo")
    results: Path = Path("results")
    rpc_url: str | None = None
    private_key: str = ANVIL_DEV_KEY
    srs: Path | None = None
    # FedSGD with a server-side Adam (FedOpt): each provider returns one full-batch gradient
    # step, the server runs Adam on their mean. It reaches the model a central fit on all
    # providers' rows would give; FedAvg's 30 local epochs drift apart on assets this different.
    rounds: int = PUBLISHED_ROUNDS  # what `proofcast bench federated` measures
    local_epochs: int = PUBLISHED_LOCAL_EPOCHS
    learning_rate: float = PUBLISHED_LEARNING_RATE
    server_lr: float = PUBLISHED_SERVER_LR
    evaluate_every: int = 25
    seed: int = 0
    dp_noise_multiplier: float = 0.0
    aggregation: str = "fedavg"
    feeds: tuple[str, ...] = DEMO_FEEDS
    providers: tuple[str, ...] = DEMO_PROVIDERS
    serve_port: int | None = None  # `--serve`: keep anvil and the explorer up until Ctrl-C


@dataclass
class FeedResult:
    """One feed: what was proved and published, and how the model compares out of sample."""

    feed: str
    log_vol_pct: float
    var99_pct: float
    on_chain_answer: int
    on_chain_round: int
    qlike_model: float
    qlike_ewma: float
    qlike_garch: float
    qlike_har: float
    dm_p_ewma: float  # Diebold-Mariano p-value (two-sided) of model vs each baseline
    dm_p_garch: float
    dm_p_har: float
    var_breach_rate: float
    var_kupiec_p: float
    var_christoffersen_p: float
    var_zone: str  # Basel zone of the tail's last 250 days (models.evaluation.traffic_light)
    ewma_var_breach_rate: float
    garch_var_breach_rate: float


@dataclass
class DemoReport:
    """Everything the demo measured."""

    providers: list[str]
    federated_round: int
    aggregation: str
    dp_epsilon: float | None
    dp_delta: float | None
    model_hash: str
    manifest_hashes: dict[str, str]
    num_feeds: int
    logrows: int
    setup_seconds: float
    prove_seconds: float
    submit_gas: int
    gas_per_feed: int
    margin_bps: int
    margin_used_fallback: bool
    margin_feed: str
    feeds: list[FeedResult]
    attesters: list[str] = field(default_factory=list)  # "url (address)"
    threshold: int = 0
    signers: list[str] = field(default_factory=list)
    attestation: list[str] = field(default_factory=list)  # each attester's answer
    step_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0


class DemoError(RuntimeError):
    """A demo step did not produce what the next step needs."""


@contextmanager
def _timed(report_times: dict[str, float], name: str, progress: Callable[[str], None]) -> Iterator:
    progress(f"{name}…")
    start = time.perf_counter()
    yield
    report_times[name] = time.perf_counter() - start
    progress(f"{name}: {report_times[name]:.1f} s")


def train_federated(settings: DemoSettings) -> tuple[OracleModel, Any]:
    """Federated training on the providers; returns the last round's OracleModel and manifest."""
    out = settings.workdir / "federated"
    simulate(
        out,
        num_nodes=len(settings.providers),
        **{
            "num-server-rounds": settings.rounds,
            "providers": ",".join(settings.providers),
            "local-epochs": settings.local_epochs,
            "learning-rate": settings.learning_rate,
            "server-lr": settings.server_lr,
            "evaluate-every": settings.evaluate_every,
            "seed": settings.seed,
            "aggregation": settings.aggregation,
            "dp-noise-multiplier": settings.dp_noise_multiplier,
        },
    )
    last = settings.rounds
    manifest = load_manifest(out, last)
    vol = load_round_model(out, last, "volatility", VolatilityModel())
    risk = load_round_model(out, last, "risk", RiskModel())
    return OracleModel(vol, risk).eval(), manifest


def redate_weeks(series: PriceSeries, today: np.datetime64) -> PriceSeries:
    """`series` shifted by whole weeks so its last day falls in the week before `today`.

    Whole weeks keep weekdays on weekdays, so the node's business-day gap check still holds.
    """
    last = np.datetime64(series.dates[-1], "D")
    weeks = int((today - np.timedelta64(1, "D") - last).astype(np.int64) // 7)
    shift = np.timedelta64(7 * weeks, "D")
    return PriceSeries(
        name=series.name,
        dates=series.dates.astype("datetime64[D]") + shift,
        open=series.open,
        high=series.high,
        low=series.low,
        close=series.close,
        volume=series.volume,
    )


def write_market_csv(series: PriceSeries, path: Path, rows: int) -> Path:
    """The last `rows` bars as a `date,open,high,low,close` CSV (close-only series repeat close)."""
    close = series.close[-rows:]
    columns = [
        close if col is None else col[-rows:] for col in (series.open, series.high, series.low)
    ]
    lines = ["date,open,high,low,close"]
    for d, o, h, lo, c in zip(series.dates[-rows:], *columns, close, strict=True):
        lines.append(f"{np.datetime64(d, 'D')},{o:.6f},{h:.6f},{lo:.6f},{c:.6f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def copy_market(market: Path, to: Path, skew_bps: float = 0.0) -> Path:
    """An attester's own copy of the market CSVs; `skew_bps` moves every price of the copy
    (a data vendor that disagrees slightly, within tolerance)."""
    to.mkdir(parents=True, exist_ok=True)
    factor = 1.0 + skew_bps / 1e4
    for csv in sorted(market.glob("*.csv")):
        lines = csv.read_text().splitlines()
        out = [lines[0]]
        for line in lines[1:]:
            date, *prices = line.split(",")
            out.append(",".join([date, *(f"{float(p) * factor:.6f}" for p in prices)]))
        (to / csv.name).write_text("\n".join(out) + "\n")
    return to


def evaluate_feed(model: OracleModel, series: PriceSeries) -> dict[str, float]:
    """Out of sample on the held-out tail: QLIKE of the model vs EWMA, GARCH(1,1) and HAR-RV
    (each fitted on the rows before the tail) with Diebold-Mariano p-values, and the 99% VaR
    backtests (Kupiec), all by `models.evaluation`."""
    features = build_features(series)
    cut = int(len(features) * (1 - TEST_FRACTION))
    fc = holdout_baselines(series, cut)
    with torch.no_grad():
        x = torch.as_tensor(features.X[cut:], dtype=torch.float32)
        out = model(x).numpy().astype(np.float64)
    fc.variance["model"] = np.exp(2.0 * out[:, 0])
    fc.var99["model"] = out[:, VAR_OUTPUT]
    scores = evaluate(fc, reference="model")
    vol, var = scores["volatility"], scores["var"]
    return {
        "qlike_model": vol["model"]["qlike"],
        "qlike_ewma": vol["ewma"]["qlike"],
        "qlike_garch": vol["garch"]["qlike"],
        "qlike_har": vol["har-rv"]["qlike"],
        "dm_p_ewma": vol["ewma"]["dm_vs_model_p"],
        "dm_p_garch": vol["garch"]["dm_vs_model_p"],
        "dm_p_har": vol["har-rv"]["dm_vs_model_p"],
        "var_breach_rate": var["model"]["breach_rate"],
        "var_kupiec_p": var["model"]["kupiec_p"],
        "var_christoffersen_p": var["model"]["christoffersen_p"],
        "var_zone": var["model"]["zone"],
        "ewma_var_breach_rate": var["ewma-normal"]["breach_rate"],
        "garch_var_breach_rate": var["garch-t"]["breach_rate"],
    }


def run_demo(settings: DemoSettings, progress: Callable[[str], None] = log.info) -> DemoReport:
    """Run every step; raises on the first failure (nothing is published on a failed step)."""
    started = time.perf_counter()
    times: dict[str, float] = {}
    work = settings.workdir
    work.mkdir(parents=True, exist_ok=True)

    with _timed(times, "federated training", progress):
        model, manifest = train_federated(settings)
    oracle_hash = model_hash(model)

    with _timed(times, "features", progress):
        features = {name: build_features(load_bundled(name)) for name in settings.feeds}
    latest = np.stack([f.X[-1] for f in features.values()])
    calibration = np.concatenate([f.X[-CALIBRATION_ROWS:] for f in features.values()])

    with _timed(times, "circuit (export, calibrate, setup)", progress):
        artifacts = CircuitArtifacts(work / "circuit")
        build = build_circuit(
            model,
            torch.as_tensor(latest, dtype=torch.float32),
            torch.as_tensor(calibration, dtype=torch.float32),
            artifacts,
            CircuitConfig(output_names=OUTPUT_NAMES),
            srs=settings.srs,
        )
    registered = "0x" + oracle_hash.to_bytes(32, "big").hex()
    if build.model_hash != oracle_hash or manifest.oracle_model_hash != registered:
        raise DemoError(
            f"model hash mismatch: circuit 0x{build.model_hash:064x}, federated manifest "
            f"{manifest.oracle_model_hash}, loaded weights {registered}"
        )

    today = np.datetime64("today", "D")
    market = work / "market"
    for name in settings.feeds:
        write_market_csv(redate_weeks(load_bundled(name), today), market / f"{name}.csv",
                         MARKET_HISTORY_DAYS)  # fmt: skip

    with chain_endpoint(work, settings.rpc_url) as url, _timed(times, "chain + node", progress):
        w3 = connect(url, settings.private_key)
        verifier = deploy_verifier(w3, artifacts)
        feed_specs = [
            FeedSpec(
                name=name,
                outputs=(
                    OutputSpec(
                        OUTPUT_NAMES[0],
                        min_answer=-5 * 10**FEED_DECIMALS,  # log of a daily vol in percent
                        max_answer=5 * 10**FEED_DECIMALS,
                        max_delta=2 * 10**FEED_DECIMALS,
                        description=f"{name} next-day log volatility (log %)",
                    ),
                    OutputSpec(
                        OUTPUT_NAMES[VAR_OUTPUT],
                        min_answer=0,
                        max_answer=50 * 10**FEED_DECIMALS,  # a 1-day 99% VaR above 50%: rejected
                        max_delta=25 * 10**FEED_DECIMALS,
                        description=f"{name} 1-day 99% VaR (percent), Proofcast federated model",
                    ),
                ),
                decimals=FEED_DECIMALS,
                max_age=DAILY_MAX_AGE,
                description=f"{name}: Proofcast federated volatility and VaR",
            )
            for name in settings.feeds
        ]
        var_key = {spec.name: spec.adapter_key(VAR_OUTPUT) for spec in feed_specs}
        # margin (bps) = 150 bps per 1% of 1-day VaR: 1.5 x VaR, floored at 2%, capped at 50%.
        margin = MarginParams(
            max_staleness=DAILY_MAX_AGE,
            fallback_volatility=20 * 10**FEED_DECIMALS,
            base_margin_bps=200,
            vol_multiplier_bps=150,
            max_margin_bps=5000,
            adapter=var_key[settings.feeds[0]],
        )
        attesters = [
            AttesterSpec(work / "attesters" / str(i + 1), {n: f"{n}.csv" for n in settings.feeds})
            for i in range(ATTESTERS)
        ]
        stack = deploy_oracle(
            w3,
            verifier.address,
            build.layout,
            feed_specs,
            attesters=[a.address for a in attesters],
            threshold=THRESHOLD,
            margin=margin,
            governance_delay=GOVERNANCE_DELAY,
        )
        eps = manifest.dp.get("epsilon")
        register_model(
            stack,
            ModelSpec(
                oracle_hash,
                round=manifest.round,
                dp_epsilon_milli=round(eps * 1000) if eps else 0,
                metrics_hash=metrics_hash(manifest.metrics),
            ),
        )
        password = "demo-" + keccak(text=str(time.time_ns())).hex()[:16]
        configs = []
        for i, spec in enumerate(attesters):
            copy_market(market, spec.data_dir, SKEW_BPS if i == ATTESTERS - 1 else 0.0)
            configs.append(
                write_attester(
                    spec,
                    w3.eth.chain_id,
                    stack.oracle.address,
                    build.layout.num_feeds,
                    build.input_scale,
                    password,
                    output_scale=build.layout.output_scale,
                    rpc_url=url,
                )
            )
        with AttesterProcesses(configs, password, work / "attesters") as running:
            node_config = NodeConfig(
                rpc_url=url,
                chain_id=w3.eth.chain_id,
                oracle_address=stack.oracle.address,
                circuit_dir=artifacts.root,
                source_dir=market,
                journal=work / "node-journal.sqlite",
                feeds=tuple(FeedConfig(name, f"{name}.csv") for name in settings.feeds),
                attesters=tuple(running.urls),
            )
            node_config.journal.unlink(missing_ok=True)  # a fresh chain: start a fresh journal
            node = Node(
                node_config,
                SigningKey(settings.private_key),
                CsvDirectorySource(market),
                Journal(node_config.journal),
            )
            tick = node.tick(force=True)
            node.journal.close()
        if tick.round is None or tick.round.state != "confirmed":
            state = tick.skipped or (tick.round.state if tick.round else "no round")
            error = tick.round.error if tick.round else ""
            raise DemoError(f"the node did not publish: {state} {error or ''}")
        published = tick.round
        answers = {n: latest_round_data(stack.adapters[var_key[n]]) for n in settings.feeds}
        assert stack.margin_engine is not None
        send(w3, stack.margin_engine.functions.updateInitialMargin(), "updateInitialMargin")
        margin_bps, _used_vol, fallback = stack.margin_engine.functions.quote().call()
        # Governance: with a report accepted, a trust change (here: let anyone transmit) is only
        # queued; run now it reverts ChangeNotReady. It stays pending on the Health page.
        pending = queue_change(stack, stack.oracle.functions.setPermissionless(True))
        try:
            execute_change(stack, pending)
        except OracleRevert as exc:
            progress(
                f"governance: setPermissionless(true) queued, {exc.error} for {GOVERNANCE_DELAY} s"
            )
        else:
            raise DemoError("a governed change took effect before its delay")
        # Explorer: a static snapshot of its pages (results/explorer/); `--serve`: live as well.
        demo_explorer(
            url,
            stack.oracle.address,
            settings.results / "explorer",
            federated=work / "federated",
            journal=node_config.journal,
            serve_port=settings.serve_port,
            progress=progress,
        )

    proved = build.layout.float_outputs([int(i) for i in published.instances or []])
    with _timed(times, "evaluation", progress):
        results = []
        for k, name in enumerate(settings.feeds):
            answer = answers[name]
            results.append(
                FeedResult(
                    feed=name,
                    log_vol_pct=proved[k][0],
                    var99_pct=proved[k][VAR_OUTPUT],
                    on_chain_answer=answer.answer,
                    on_chain_round=answer.round_id,
                    **evaluate_feed(model, load_bundled(name)),
                )
            )
    gas = int(published.gas_used or 0)
    return DemoReport(
        providers=list(settings.providers),
        federated_round=manifest.round,
        aggregation=manifest.aggregation,
        dp_epsilon=manifest.dp.get("epsilon"),
        dp_delta=manifest.dp.get("delta"),
        model_hash=registered,
        manifest_hashes=dict(manifest.model_hashes),
        num_feeds=build.layout.num_feeds,
        logrows=build.logrows,
        setup_seconds=build.setup_seconds,
        prove_seconds=float(published.prove_seconds or 0.0),
        submit_gas=gas,
        gas_per_feed=gas // build.layout.num_feeds,
        margin_bps=int(margin_bps),
        margin_used_fallback=bool(fallback),
        margin_feed=var_key[settings.feeds[0]],
        feeds=results,
        attesters=[f"{u} ({a.address})" for u, a in zip(running.urls, attesters, strict=True)],
        threshold=THRESHOLD,
        signers=list((published.attestation or {}).get("signers", [])),
        attestation=list((published.attestation or {}).get("outcomes", [])),
        step_seconds=times,
        total_seconds=time.perf_counter() - started,
    )


def write_report(report: DemoReport, results: Path) -> Path:
    """results/demo.json, results/demo.md and results/demo_var.png."""
    results.mkdir(parents=True, exist_ok=True)
    (results / "demo.json").write_text(json.dumps(asdict(report), indent=2))
    lines = [
        "# Proofcast demo",
        "",
        f"- providers: {', '.join(report.providers)}; federated round {report.federated_round} "
        f"({report.aggregation}); DP epsilon: "
        f"{'off' if report.dp_epsilon is None else f'{report.dp_epsilon:.2f}'}",
        f"- registered model hash (vol + VaR network): `{report.model_hash}`",
        f"- circuit: {report.num_feeds} feeds per proof, logrows {report.logrows}, "
        f"setup {report.setup_seconds:.1f} s; proof {report.prove_seconds:.1f} s",
        f"- on-chain submit: {report.submit_gas:,} gas per update, "
        f"{report.gas_per_feed:,} per feed (the oracle's first report: fresh feed state and "
        "history-ring words; steady state in results/contracts.md)",
        f"- MarginEngine on `{report.margin_feed}`: initial margin {report.margin_bps} bps"
        + (" (fallback: feed stale)" if report.margin_used_fallback else ""),
        f"- attesters: {len(report.attesters)}, threshold {report.threshold}; this round signed "
        f"by {', '.join(report.signers)}",
        *(f"  - {line}" for line in report.attestation),
        f"- wall time {report.total_seconds:.0f} s: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in report.step_seconds.items()),
        "",
        "| feed | proved log vol % | proved VaR99 % | on-chain answer (VaR) |",
        "|---|---|---|---|",
        *(
            f"| {f.feed} | {f.log_vol_pct:.4f} | {f.var99_pct:.4f} | {f.on_chain_answer} |"
            for f in report.feeds
        ),
        "",
        f"Out of sample (last {TEST_FRACTION:.0%} of each feed, seen by no provider): QLIKE of "
        "the variance forecast (DM p: Diebold-Mariano, two-sided, vs the model; baselines fitted "
        "on the rows before the tail) and the 99% VaR backtest (Kupiec and Christoffersen "
        "independence pass at 5% if p >= 0.05; Basel zone of the tail's last 250 days).",
        "",
        "| feed | QLIKE model | EWMA (DM p) | GARCH(1,1) (DM p) | HAR-RV (DM p) | VaR breaches "
        "| Kupiec p | Christoffersen p | zone | EWMA VaR breaches | GARCH-t VaR breaches |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in report.feeds:
        lines.append(
            f"| {f.feed} | {f.qlike_model:.4f} | {f.qlike_ewma:.4f} ({f.dm_p_ewma:.3f}) | "
            f"{f.qlike_garch:.4f} ({f.dm_p_garch:.3f}) | {f.qlike_har:.4f} ({f.dm_p_har:.3f}) | "
            f"{f.var_breach_rate:.2%} | {f.var_kupiec_p:.3f} | {f.var_christoffersen_p:.3f} | "
            f"{f.var_zone} | {f.ewma_var_breach_rate:.2%} | "
            f"{f.garch_var_breach_rate:.2%} |"
        )
    path = results / "demo.md"
    path.write_text("\n".join(lines) + "\n")
    _plot(report, results / "demo_qlike.png")
    return path


def _plot(report: DemoReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f.feed for f in report.feeds]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bars = {
        "federated model": [f.qlike_model for f in report.feeds],
        "EWMA (RiskMetrics)": [f.qlike_ewma for f in report.feeds],
        "GARCH(1,1)": [f.qlike_garch for f in report.feeds],
        "HAR-RV": [f.qlike_har for f in report.feeds],
    }
    for i, (label, values) in enumerate(bars.items()):
        ax.bar(x + 0.2 * (i - 1.5), values, 0.2, label=label)
    ax.set_xticks(x, names)
    ax.set_ylabel("out-of-sample QLIKE (lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
