"""`proofcast demo`: the whole system from nothing, on bundled data and a local chain.

bundled series split across providers -> Flower federated training (simulation engine) ->
OracleModel (volatility + 99% VaR per feed) -> ONNX -> EZKL circuit for K feeds -> anvil ->
reusable verifier + RiskOracle + one Chainlink-style adapter per feed + MarginEngine ->
register the federated model's hash -> four independent attester processes (each with its own
copy of the data, one slightly different) -> 31 business days replayed, one node round a day: the
day's bar joins everyone's data, the chain's clock moves to just after its close, the node
proposes the round, collects f+1 signatures, proves every feed in one batch and publishes; the
oracle scores each day's VaR on the next day's return (30 scored days) -> MarginEngine reads a
feed through AggregatorV3Interface and sets a margin -> the explorer's static pages.

Clocks: the replayed days all closed before today (wall time), which the attesters check
observations and signature expiry against; the chain starts an hour before the first close and
is only ever moved forward, to each day's close plus ten minutes (never past the wall clock),
so every report is fresh for its feed's 26 h maxAge and inside its signatures' validity.

Every step is a library call that the tests also exercise; this module only wires them up,
measures them and writes a report.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from eth_utils import keccak

from circuits.artifacts import CircuitArtifacts
from federated.config import (
    PUBLISHED_LEARNING_RATE,
    PUBLISHED_LOCAL_EPOCHS,
    PUBLISHED_RECORD_CLIP,
    PUBLISHED_RECORD_CLIP_RISK,
    PUBLISHED_RECORD_NOISE,
    PUBLISHED_ROUNDS,
    PUBLISHED_SECAGG,
    PUBLISHED_SERVER_LR,
)
from federated.manifest import load_manifest, load_round_model
from federated.simulation import simulate
from models.data import PriceSeries, load_bundled
from models.evaluation import evaluate, holdout_baselines
from models.features import HISTORY_BARS, build_features
from models.identity import model_hash
from models.oracle_model import OUTPUT_NAMES, OracleModel
from models.risk import RiskModel
from models.volatility import VolatilityModel
from oracle.attest.processes import AttesterProcesses, AttesterSpec, write_attester
from oracle.chain.anvil import ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.contracts import (
    FeedSpec,
    OracleRevert,
    OracleStack,
    SlotReport,
    deploy_oracle,
    execute_change,
    feed_id,
    latest_round_data,
    queue_change,
    read_backtest,
    register_model,
    send,
)
from oracle.chain.verifier import deploy_verifier
from oracle.childlog import start_timeout
from oracle.explorer.site import demo_explorer
from oracle.node.config import FeedConfig, NodeConfig
from oracle.node.journal import Journal, Round
from oracle.node.keys import SigningKey
from oracle.node.runner import Node
from oracle.node.sources import CsvDirectorySource
from oracle.ops.admin import model_spec
from oracle.ops.circuit import build_oracle_circuit
from oracle.ops.feeds import DAILY_MAX_AGE, FEED_DECIMALS, feed_spec, margin_params

log = logging.getLogger(__name__)

# Assets published, one batch proof for all (WTI is not: its recent close-only data has
# multi-day gaps, which the node refuses to prove on).
DEMO_FEEDS = ("sp500", "aapl", "msft", "ibm")
# Data holders: each published feed's owner and a stress scenario, each training on the first 70%
# of its series (the summary scores the last 20%). WTI is no provider: close-only, its realized
# variance is the squared close-to-close return, a far noisier target than the others'
# Garman-Klass one, and pooling it cost every OHLC feed (IBM QLIKE 0.473 with it, 0.420 without).
DEMO_PROVIDERS = ("bundled:sp500", "bundled:aapl", "bundled:msft", "bundled:ibm", "stress:7")
VAR_OUTPUT = OUTPUT_NAMES.index("var99_pct")
# FEED_DECIMALS, DAILY_MAX_AGE (oracle.ops.feeds): MarginEngine's staleness is the feeds' maxAge.
# Rows of each feed's CSV before the first published day: every bar the features use
# (models.features.HISTORY_BARS: the calibrated VaR's 500 scores), so no day is short of history.
MARKET_HISTORY_DAYS = HISTORY_BARS
# Consecutive business days the node publishes per feed, one round each: the on-chain ledger
# scores every day's VaR on the next day's return, so 31 days leave 30 scored days.
PUBLISHED_DAYS = 31
PUBLISH_AFTER_CLOSE = 600  # the chain's clock moves to this long after each day's close
TEST_FRACTION = 0.2  # held-out tail of each feed for the model-vs-baseline summary
ATTESTERS = 4  # n independent attesters, f = 1 of them may be down or lying
THRESHOLD = 2  # f + 1 signatures per report
# Seconds anvil may take to answer on an idle machine (scaled to the load, or exactly
# $PROOFCAST_ANVIL_START_TIMEOUT); the attesters' wait is oracle.attest.processes.START_TIMEOUT.
ANVIL_START_TIMEOUT = 30.0
ANVIL_START_TIMEOUT_ENV = "PROOFCAST_ANVIL_START_TIMEOUT"
TRADING_DAYS = 252  # annualised volatility = daily x sqrt(252)
VAR_TARGET = 0.01  # the 99% VaR's breach rate
P_PASS = 0.05  # Kupiec and Christoffersen pass if p >= 5%
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
    dp_noise_multiplier: float = 0.0  # user-level central DP: off (it cannot run under SecAgg+)
    # Private by default: record-level DP-SGD in every provider (epsilon 7.8 per row at delta
    # 1e-5 over the 100 rounds), updates summed under SecAgg+. 0 / False: the non-private run.
    record_dp_noise_multiplier: float = PUBLISHED_RECORD_NOISE
    record_dp_clipping_norm: float = PUBLISHED_RECORD_CLIP
    record_dp_clipping_norm_risk: float = PUBLISHED_RECORD_CLIP_RISK
    secagg: bool = PUBLISHED_SECAGG
    aggregation: str = "fedavg"
    feeds: tuple[str, ...] = DEMO_FEEDS
    providers: tuple[str, ...] = DEMO_PROVIDERS
    serve_port: int | None = None  # `--serve`: keep anvil and the explorer up until Ctrl-C
    verbose: bool = False  # False: only warnings and the demo's own progress lines are logged


@dataclass
class PublishedDay:
    """One feed in one published round."""

    round_id: int
    observed_at: int  # close of the day's bar
    log_vol_pct: float  # proved: log of tomorrow's daily volatility in percent
    var99_pct: float  # proved: tomorrow's 99% VaR in percent
    realized_return_pct: float  # the day's log return as the signed report carried it
    breached: bool  # the oracle emitted VaRBreached: the return fell below minus the last VaR


@dataclass
class FeedResult:
    """One feed: what was proved and published, its on-chain backtest, and how the model
    compares out of sample."""

    feed: str
    log_vol_pct: float  # the last round's
    var99_pct: float
    on_chain_answer: int
    on_chain_round: int
    chain_scored_days: int  # RiskOracle.backtest(feedId) after the demo's history
    chain_breaches: int
    chain_zone: str
    chain_gaps: int
    chain_lifetime_breaches: int
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
    days: list[PublishedDay] = field(default_factory=list)
    on_chain_decimals: int = FEED_DECIMALS  # the VaR adapter's decimals()

    @property
    def daily_vol_pct(self) -> float:
        """The proved volatility in percent per day (the model outputs its natural log)."""
        return math.exp(self.log_vol_pct)

    @property
    def annual_vol_pct(self) -> float:
        """The daily volatility annualised: x sqrt(252 trading days)."""
        return self.daily_vol_pct * math.sqrt(TRADING_DAYS)

    @property
    def on_chain_value(self) -> float:
        """The VaR adapter's answer in percent (answer / 10**decimals)."""
        return self.on_chain_answer / 10**self.on_chain_decimals

    def checks(self) -> dict[str, bool]:
        """Pass/fail of the model against the baselines and the 1% VaR target."""
        return {
            "QLIKE < EWMA": self.qlike_model < self.qlike_ewma,
            "QLIKE < GARCH": self.qlike_model < self.qlike_garch,
            "QLIKE < HAR-RV": self.qlike_model < self.qlike_har,
            "Kupiec": self.var_kupiec_p >= P_PASS,
            "Christoffersen": self.var_christoffersen_p >= P_PASS,
            "zone": self.var_zone == "green",
            "on-chain zone": self.chain_zone == "green",
        }


@dataclass
class DemoReport:
    """Everything the demo measured."""

    providers: list[str]
    federated_round: int
    aggregation: str
    dp_epsilon: float | None
    record_epsilon: float | None
    dp_delta: float | None
    model_hash: str
    manifest_hashes: dict[str, str]
    num_feeds: int
    logrows: int
    setup_seconds: float
    prove_seconds: float  # mean over the published rounds
    submit_gas: int  # the oracle's first report
    gas_per_feed: int
    days_published: int
    first_day: str
    last_day: str
    submit_gas_last: int  # the last report (scores every feed's VaR)
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
    rpc_url: str = ""
    chain_id: int = 0
    contracts: dict[str, str] = field(default_factory=dict)  # name -> address
    secagg: bool = False
    # What the registry holds for the model (`models(hash)`): epsilons x 1000, delta exponent.
    on_chain_record_epsilon: float | None = None
    on_chain_delta: float | None = None

    @classmethod
    def from_json(cls, path: Path) -> DemoReport:
        """A report as `write_report` saved it (results/demo.json)."""
        data = json.loads(Path(path).read_text())
        feeds = [
            FeedResult(**{**f, "days": [PublishedDay(**d) for d in f["days"]]})
            for f in data.pop("feeds")
        ]
        return cls(**data, feeds=feeds)


Advance = Callable[[], None]
# `track(description, total)`: a context in which each call of the yielded function is one step
# done (total None: a step of unknown length); the CLI shows it as a rich progress bar.
Track = Callable[[str, int | None], AbstractContextManager[Advance]]


def no_track(description: str, total: int | None) -> AbstractContextManager[Advance]:
    return nullcontext(lambda: None)


# Flower's notice that `run_simulation` is deprecated in favour of `flwr run` (a SuperLink and
# SuperNode processes): the demo and the tests keep the in-process simulation engine on purpose.
KNOWN_NOTICES = ("The `run_simulation` function is deprecated",)
ROUND_RECORD = "round %d: %s"  # federated.server_app's line after each round


class _DropKnownNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(notice in message for notice in KNOWN_NOTICES)


class _WarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


class _RoundCounter(logging.Handler):
    """Advances a progress bar on each finished federated round."""

    def __init__(self, advance: Advance) -> None:
        super().__init__(logging.INFO)
        self.advance = advance

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == ROUND_RECORD:
            self.advance()


@contextmanager
def demo_logging(verbose: bool) -> Iterator[None]:
    """Flower's lines once (it prints them through its own handler; propagating them to the
    root's printed each twice), its known deprecation notice dropped, and unless `verbose` only
    warnings and errors from any logger."""
    root, flwr = logging.getLogger(), logging.getLogger("flwr")
    propagate, known, quiet = flwr.propagate, _DropKnownNotices(), _WarningsOnly()
    handlers = [] if verbose else [*root.handlers, *flwr.handlers]
    flwr.propagate = False
    flwr.addFilter(known)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
        flwr.removeFilter(known)
        flwr.propagate = propagate


@contextmanager
def counting_rounds(advance: Advance) -> Iterator[None]:
    """`advance` once per federated round the server app finishes."""
    server = logging.getLogger("federated.server_app")
    level, handler = server.level, _RoundCounter(advance)
    if server.getEffectiveLevel() > logging.INFO:
        server.setLevel(logging.INFO)
    server.addHandler(handler)
    try:
        yield
    finally:
        server.removeHandler(handler)
        server.setLevel(level)


class DemoError(RuntimeError):
    """A demo step did not produce what the next step needs."""


@contextmanager
def _timed(report_times: dict[str, float], name: str, progress: Callable[[str], None]) -> Iterator:
    start = time.perf_counter()
    yield
    report_times[name] = time.perf_counter() - start
    progress(f"{name}: {report_times[name]:.1f} s")


def train_federated(settings: DemoSettings) -> tuple[OracleModel, Any]:
    """Federated training on the providers; returns the last round's OracleModel and manifest.
    Each demo starts from nothing: the previous demo's rounds and its providers' receipts go
    (a receipt kept across runs would add this run's epsilon to the last one's, correctly for a
    real provider, but the demo's providers are new each time)."""
    out = settings.workdir / "federated"
    shutil.rmtree(out, ignore_errors=True)
    simulate(
        out,
        num_nodes=len(settings.providers),
        log_to_driver=settings.verbose,
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
            "record-dp-noise-multiplier": settings.record_dp_noise_multiplier,
            "record-dp-clipping-norm": settings.record_dp_clipping_norm,
            "record-dp-clipping-norm-risk": settings.record_dp_clipping_norm_risk,
            "secagg": settings.secagg,
            "secagg-num-shares": min(3, len(settings.providers)),
            "secagg-threshold": 2,
        },
    )
    last = settings.rounds
    manifest = load_manifest(out, last)
    vol = load_round_model(out, last, "volatility", VolatilityModel())
    risk = load_round_model(out, last, "risk", RiskModel())
    return OracleModel(vol, risk).eval(), manifest


def last_business_day(today: np.datetime64) -> np.datetime64:
    """The newest weekday strictly before `today`: its bar has closed (at 00:00 UTC today)."""
    return np.busday_offset(today, -1, roll="forward")


def redate_business_days(series: PriceSeries, rows: int, last: np.datetime64) -> PriceSeries:
    """The last `rows` bars of `series` replayed on the `rows` weekdays ending at `last`.

    Every feed gets the same dates (one round a day publishes all of them) and no missing
    weekday (the node proves only on series without gaps); only the dates change, the bars and
    their order are the series' own.
    """
    if len(series) < rows:
        raise DemoError(f"{series.name}: {len(series)} bars, the replay needs {rows}")
    dates = np.busday_offset(last, np.arange(-(rows - 1), 1), roll="forward")
    tail = series.slice(len(series) - rows)
    return replace(tail, dates=dates.astype(tail.dates.dtype))


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


def demo_circuit(
    settings: DemoSettings, model: OracleModel, manifest: Any
) -> tuple[CircuitArtifacts, Any]:
    """The OracleModel as an EZKL circuit of all feeds, its lookup ranges chosen on each feed's
    recent rows; checks the circuit, the federated manifest and the weights name one model."""
    artifacts = CircuitArtifacts(settings.workdir / "circuit")
    series = [load_bundled(name) for name in settings.feeds]
    build = build_oracle_circuit(model, series, artifacts, settings.srs)
    oracle_hash = model_hash(model)
    registered = "0x" + oracle_hash.to_bytes(32, "big").hex()
    if build.model_hash != oracle_hash or manifest.oracle_model_hash != registered:
        raise DemoError(
            f"model hash mismatch: circuit 0x{build.model_hash:064x}, federated manifest "
            f"{manifest.oracle_model_hash}, loaded weights {registered}"
        )
    return artifacts, build


@dataclass
class Replay:
    """The market the demo replays: per feed the bars of `days` consecutive business days
    after `MARKET_HISTORY_DAYS` bars of history, shared dates ending at the last weekday before
    today. Day d shows the node and every attester the bars up to that day's close."""

    market: Path  # the node's CSVs
    attesters: list[Path]  # each attester's own copy (the last one skewed)
    bars: dict[str, PriceSeries]
    days: int

    @property
    def dates(self) -> np.ndarray:
        return next(iter(self.bars.values())).dates[-self.days :]

    def close(self, day: int) -> int:
        """Unix time at which day `day`'s bar closed (its observedAt)."""
        end = np.datetime64(self.dates[day], "D") + np.timedelta64(1, "D")
        return int(end.astype("datetime64[s]").astype(np.int64))

    def show(self, day: int) -> None:
        """Write every CSV up to day `day`'s bar: the bar that closed joins everyone's data."""
        rows = MARKET_HISTORY_DAYS + day
        for name, series in self.bars.items():
            write_market_csv(series.slice(0, rows), self.market / f"{name}.csv", rows)
        for i, directory in enumerate(self.attesters):
            copy_market(self.market, directory, SKEW_BPS if i == len(self.attesters) - 1 else 0)


def replay_market(settings: DemoSettings, attesters: list[AttesterSpec]) -> Replay:
    """The bundled series on the last PUBLISHED_DAYS business days (see `Replay`)."""
    rows = MARKET_HISTORY_DAYS + PUBLISHED_DAYS - 1
    last = last_business_day(np.datetime64("today", "D"))
    bars = {n: redate_business_days(load_bundled(n), rows, last) for n in settings.feeds}
    replay = Replay(
        settings.workdir / "market", [a.data_dir for a in attesters], bars, PUBLISHED_DAYS
    )
    replay.show(0)
    return replay


@contextmanager
def demo_chain(settings: DemoSettings, replay: Replay) -> Iterator[str]:
    """The demo's own anvil, its clock starting an hour before the first replayed close (the
    history is published on a warped clock); or `--rpc-url`, whose clock must be that early."""
    genesis = replay.close(0) - 3_600
    if settings.rpc_url:
        w3 = connect(settings.rpc_url, settings.private_key)
        now = int(w3.eth.get_block("latest")["timestamp"])
        if now >= replay.close(0):
            raise DemoError(
                f"the chain at {settings.rpc_url} is at {now}, after the first replayed close "
                f"{replay.close(0)}: the demo publishes {replay.days} past days on a chain whose "
                "clock it can move forward from before them (run it without --rpc-url)"
            )
        yield settings.rpc_url
        return
    timeout = start_timeout(ANVIL_START_TIMEOUT_ENV, ANVIL_START_TIMEOUT)
    anvil_log = settings.workdir / "anvil.log"
    with AnvilNode(log_path=anvil_log, timestamp=genesis, startup_timeout=timeout) as anvil:
        yield anvil.rpc_url


def demo_feed_specs(settings: DemoSettings) -> list[FeedSpec]:
    """Each feed's two outputs with their guardrails (`oracle.ops.feeds`); maxAge on the
    heartbeat scale of daily bars (26 h)."""
    return [feed_spec(name, OUTPUT_NAMES, FEED_DECIMALS, DAILY_MAX_AGE) for name in settings.feeds]


def deploy_demo_stack(
    w3: Any, settings: DemoSettings, artifacts: CircuitArtifacts, build: Any, manifest: Any,
    model: OracleModel, attesters: list[AttesterSpec],
) -> tuple[OracleStack, str]:  # fmt: skip
    """Verifier, RiskOracle, adapters and MarginEngine (on the first feed's VaR); the federated
    model registered with its round, DP epsilon and metrics hash. Returns the stack and the
    verifier's address."""
    verifier = deploy_verifier(w3, artifacts)
    specs = demo_feed_specs(settings)
    margin = margin_params(specs[0])  # on the first feed's VaR
    stack = deploy_oracle(
        w3,
        verifier.address,
        build.layout,
        specs,
        attesters=[a.address for a in attesters],
        threshold=THRESHOLD,
        margin=margin,
        governance_delay=GOVERNANCE_DELAY,
    )
    register_model(stack, model_spec(manifest))  # checked against `model` by demo_circuit
    return stack, verifier.address


def contract_addresses(stack: OracleStack, verifier: str) -> dict[str, str]:
    """What a consumer points at: the oracle, its verifier, each feed output's adapter and
    the MarginEngine."""
    out = {"RiskOracle": stack.oracle.address, "verifier": verifier}
    out.update({f"adapter {key}": c.address for key, c in stack.adapters.items()})
    if stack.margin_engine is not None:
        out["MarginEngine"] = stack.margin_engine.address
    return out


def attester_configs(
    w3: Any, url: str, stack: OracleStack, build: Any, attesters: list[AttesterSpec], password: str
) -> list[Path]:
    """Each attester's keystore and config (its data directory already holds its copy)."""
    return [
        write_attester(
            spec,
            w3.eth.chain_id,
            stack.oracle.address,
            build.artifacts.root,
            password,
            rpc_url=url,
        )
        for spec in attesters
    ]


def demo_node(
    settings: DemoSettings, url: str, chain_id: int, stack: OracleStack,
    artifacts: CircuitArtifacts, replay: Replay, attester_urls: list[str],
) -> Node:  # fmt: skip
    """The oracle node over the replayed market, with a fresh journal (a fresh chain)."""
    config = NodeConfig(
        rpc_url=url,
        chain_id=chain_id,
        oracle_address=stack.oracle.address,
        circuit_dir=artifacts.root,
        source_dir=replay.market,
        journal=settings.workdir / "node-journal.sqlite",
        feeds=tuple(FeedConfig(name, f"{name}.csv") for name in settings.feeds),
        attesters=tuple(attester_urls),
    )
    config.journal.unlink(missing_ok=True)
    return Node(
        config, SigningKey(settings.private_key), CsvDirectorySource(replay.market),
        Journal(config.journal),
    )  # fmt: skip


def warp_chain(w3: Any, to: int) -> None:
    """Move the chain's clock forward to `to` (never back) and mine a block there."""
    if int(w3.eth.get_block("latest")["timestamp"]) < to:
        w3.provider.make_request("evm_setNextBlockTimestamp", [to])
        w3.provider.make_request("evm_mine", [])


def publish_history(
    node: Node, replay: Replay, w3: Any, advance: Advance = lambda: None
) -> list[Round]:
    """One node round per replayed day: the day's bar joins the node's and attesters' data, the
    chain's clock moves to just after that close (never past the wall clock, which the
    attesters' and the signatures' expiry follow), and the node publishes every feed."""
    rounds = []
    for day in range(replay.days):
        if day:
            replay.show(day)
        warp_chain(w3, min(replay.close(day) + PUBLISH_AFTER_CLOSE, int(time.time())))
        tick = node.tick(force=True)
        if tick.round is None or tick.round.state != "confirmed":
            state = tick.skipped or (tick.round.state if tick.round else "no round")
            error = tick.round.error if tick.round else ""
            raise DemoError(
                f"day {replay.dates[day]}: the node did not publish: {state} {error or ''}"
            )
        rounds.append(tick.round)
        advance()
    node.journal.close()
    return rounds


def published_days(
    stack: OracleStack, rounds: list[Round], feeds: tuple[str, ...], layout: Any
) -> dict[str, list[PublishedDay]]:
    """Per feed and round: the proved answers, the realised return the report carried and
    whether the oracle recorded a breach for it (`VaRBreached`). The demo's oracle is fresh,
    so its reports are 1, 2, ... in the order the node published them."""
    breached = {
        (bytes(e.args.feedId), int(e.args.roundId))
        for e in stack.oracle.events.VaRBreached().get_logs(from_block=0)
    }
    out: dict[str, list[PublishedDay]] = {name: [] for name in feeds}
    for report_id, rnd in enumerate(rounds, start=1):
        report = SlotReport.from_json((rnd.attestation or {})["report"])
        proved = layout.float_outputs([int(i) for i in rnd.instances or []])
        for k, name in enumerate(feeds):
            round_id = report_id << 8 | k
            out[name].append(
                PublishedDay(
                    round_id=round_id,
                    observed_at=report.observed_at[k],
                    log_vol_pct=proved[k][0],
                    var99_pct=proved[k][VAR_OUTPUT],
                    realized_return_pct=report.realized_return[k] / 2**layout.output_scale,
                    breached=(feed_id(name), round_id) in breached,
                )
            )
    return out


def chain_results(
    stack: OracleStack, rounds: list[Round], feeds: tuple[str, ...], layout: Any
) -> dict[str, dict[str, Any]]:
    """Per feed, what a consumer reads: the VaR adapter's latest round and the oracle's
    backtest ledger (`read_backtest`), with the days published."""
    days = published_days(stack, rounds, feeds, layout)
    out = {}
    for name in feeds:
        adapter = stack.adapters[f"{name}/{OUTPUT_NAMES[VAR_OUTPUT]}"]
        answer = latest_round_data(adapter)
        ledger = read_backtest(stack.oracle, feed_id(name))
        out[name] = {
            "log_vol_pct": days[name][-1].log_vol_pct,
            "var99_pct": days[name][-1].var99_pct,
            "on_chain_answer": answer.answer,
            "on_chain_round": answer.round_id,
            "on_chain_decimals": int(adapter.functions.decimals().call()),
            "chain_scored_days": ledger.scored_days,
            "chain_breaches": ledger.breaches,
            "chain_zone": ledger.zone,
            "chain_gaps": ledger.gaps,
            "chain_lifetime_breaches": ledger.lifetime_breaches,
            "days": days[name],
        }
    return out


def set_margin(w3: Any, stack: OracleStack) -> tuple[int, bool]:
    """MarginEngine reads its feed through AggregatorV3Interface and stores a margin: (bps,
    whether it fell back to its conservative volatility)."""
    assert stack.margin_engine is not None
    send(w3, stack.margin_engine.functions.updateInitialMargin(), "updateInitialMargin")
    margin_bps, _used_vol, fallback = stack.margin_engine.functions.quote().call()
    return int(margin_bps), bool(fallback)


def queue_governed_change(stack: OracleStack, progress: Callable[[str], None]) -> None:
    """Governance: with reports accepted, a trust change (here: let anyone transmit) is only
    queued; run now it reverts ChangeNotReady. It stays pending on the Health page."""
    pending = queue_change(stack, stack.oracle.functions.setPermissionless(True))
    try:
        execute_change(stack, pending)
    except OracleRevert as exc:
        progress(
            f"governance: setPermissionless(true) queued, {exc.error} for {GOVERNANCE_DELAY} s"
        )
    else:
        raise DemoError("a governed change took effect before its delay")


def run_demo(
    settings: DemoSettings, progress: Callable[[str], None] = log.info, track: Track = no_track
) -> DemoReport:
    """Run every step; raises on the first failure (nothing is published on a failed step).
    `progress` gets one line per finished step, `track` shows the long ones as they go."""
    with demo_logging(settings.verbose):
        return _run_demo(settings, progress, track)


def _run_demo(settings: DemoSettings, progress: Callable[[str], None], track: Track) -> DemoReport:
    started = time.perf_counter()
    times: dict[str, float] = {}
    settings.workdir.mkdir(parents=True, exist_ok=True)
    with (
        _timed(times, "federated training", progress),
        track(f"federated training ({len(settings.providers)} providers)", settings.rounds) as done,
        counting_rounds(done),
    ):
        model, manifest = train_federated(settings)
    with (
        _timed(times, "circuit (export, calibrate, setup)", progress),
        track("circuit: ONNX export, calibration, keys", None),
    ):
        artifacts, build = demo_circuit(settings, model, manifest)
    attesters = [
        AttesterSpec(settings.workdir / "attesters" / str(i + 1),
                     {n: f"{n}.csv" for n in settings.feeds})
        for i in range(ATTESTERS)
    ]  # fmt: skip
    replay = replay_market(settings, attesters)
    with demo_chain(settings, replay) as url, _timed(times, "chain + node", progress):
        w3 = connect(url, settings.private_key)
        with track("deploying contracts", None):
            stack, verifier = deploy_demo_stack(
                w3, settings, artifacts, build, manifest, model, attesters
            )
            password = "demo-" + keccak(text=str(time.time_ns())).hex()[:16]
            configs = attester_configs(w3, url, stack, build, attesters, password)
        attester_dir = settings.workdir / "attesters"
        # Four Python processes importing torch and decrypting a scrypt keystore at once: on a
        # busy two-core machine that can take minutes (the wait scales with the load, or
        # $PROOFCAST_ATTESTER_START_TIMEOUT).
        with track(f"starting {ATTESTERS} attesters (logs in {attester_dir})", None):
            running = AttesterProcesses(configs, password, attester_dir).__enter__()
        try:
            node = demo_node(settings, url, w3.eth.chain_id, stack, artifacts, replay,
                             running.urls)  # fmt: skip
            with track(f"proving and publishing {replay.days} days", replay.days) as done:
                rounds = publish_history(node, replay, w3, done)
        finally:
            running.stop()
        progress(f"published {replay.days} days ({replay.dates[0]} to {replay.dates[-1]})")
        chain = chain_results(stack, rounds, settings.feeds, build.layout)
        margin = set_margin(w3, stack)
        queue_governed_change(stack, progress)
        chain_id = int(w3.eth.chain_id)
        registered = registered_privacy(stack, manifest.oracle_model_hash)
        demo_explorer(
            url,
            stack.oracle.address,
            settings.results / "explorer",
            federated=settings.workdir / "federated",
            journal=node.config.journal,
            serve_port=settings.serve_port,
            progress=progress,
        )
    with _timed(times, "evaluation", progress):
        results = [
            FeedResult(feed=name, **chain[name], **evaluate_feed(model, load_bundled(name)))
            for name in settings.feeds
        ]
    report = summarize(settings, manifest, build, rounds, results, replay, margin)
    report.attesters = [f"{u} ({a.address})" for u, a in zip(running.urls, attesters, strict=True)]
    report.step_seconds = times
    report.total_seconds = time.perf_counter() - started
    report.rpc_url, report.chain_id = url, chain_id
    report.contracts = contract_addresses(stack, verifier)
    report.secagg = bool(manifest.secagg)
    report.on_chain_record_epsilon, report.on_chain_delta = registered
    return report


def registered_privacy(stack: OracleStack, model_hash: str) -> tuple[float | None, float | None]:
    """(record-level epsilon, delta) the registry holds for `model_hash` (None: no DP)."""
    model = stack.oracle.functions.models(bytes.fromhex(model_hash.removeprefix("0x"))).call()
    record_milli, delta_exponent = int(model[6]), int(model[7])
    return (record_milli / 1000 if record_milli else None), (
        10.0**-delta_exponent if delta_exponent else None
    )


def summarize(
    settings: DemoSettings, manifest: Any, build: Any, rounds: list[Round],
    results: list[FeedResult], replay: Replay, margin: tuple[int, bool],
) -> DemoReport:  # fmt: skip
    """The report of a finished demo (attesters and timings are added by the caller)."""
    first, last = rounds[0], rounds[-1]
    gas = int(first.gas_used or 0)
    return DemoReport(
        providers=list(settings.providers),
        federated_round=manifest.round,
        aggregation=manifest.aggregation,
        dp_epsilon=manifest.dp.get("epsilon"),
        record_epsilon=manifest.dp.get("record_epsilon"),
        dp_delta=manifest.dp.get("delta"),
        model_hash=manifest.oracle_model_hash,
        manifest_hashes=dict(manifest.model_hashes),
        num_feeds=build.layout.num_feeds,
        logrows=build.logrows,
        setup_seconds=build.setup_seconds,
        prove_seconds=float(np.mean([r.prove_seconds or 0.0 for r in rounds])),
        submit_gas=gas,
        gas_per_feed=gas // build.layout.num_feeds,
        days_published=len(rounds),
        first_day=str(replay.dates[0]),
        last_day=str(replay.dates[-1]),
        submit_gas_last=int(last.gas_used or 0),
        margin_bps=margin[0],
        margin_used_fallback=margin[1],
        margin_feed=f"{settings.feeds[0]}/{OUTPUT_NAMES[VAR_OUTPUT]}",
        feeds=results,
        threshold=THRESHOLD,
        signers=list((last.attestation or {}).get("signers", [])),
        attestation=list((last.attestation or {}).get("outcomes", [])),
    )


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


@dataclass(frozen=True)
class SummaryTable:
    title: str
    columns: list[str]
    rows: list[list[str]]


def summary_tables(report: DemoReport) -> list[SummaryTable]:
    """The demo's results in human units with pass/fail marks; the CLI prints them, demo.md
    holds them too."""
    values = SummaryTable(
        f"Published on {report.last_day}, the last of {report.days_published} days (proved; "
        "VaR: 1-day 99%)",
        ["feed", "daily vol %", "annual vol %", "VaR %", "on-chain VaR answer"],
        [
            [
                f.feed,
                f"{f.daily_vol_pct:.3f}",
                f"{f.annual_vol_pct:.1f}",
                f"{f.var99_pct:.3f}",
                f"{f.on_chain_answer} = {f.on_chain_value:.{f.on_chain_decimals}f} %",
            ]
            for f in report.feeds
        ],
    )
    vol = SummaryTable(
        f"QLIKE on the held-out {TEST_FRACTION:.0%} (lower wins)",
        ["feed", "model", "EWMA", "GARCH(1,1)", "HAR-RV"],
        [
            [f.feed, f"{f.qlike_model:.3f}"]
            + [
                f"{q:.3f} {mark(f.qlike_model < q)}"
                for q in (f.qlike_ewma, f.qlike_garch, f.qlike_har)
            ]
            for f in report.feeds
        ],
    )
    var = SummaryTable(
        f"99% VaR: target {VAR_TARGET:.0%} of days breached; on chain: breaches/days scored",
        ["feed", "breaches", "Kupiec p", "Christoff. p", "zone", "on chain"],
        [
            [
                f.feed,
                f"{f.var_breach_rate:.2%}",
                f"{f.var_kupiec_p:.3f} {mark(f.var_kupiec_p >= P_PASS)}",
                f"{f.var_christoffersen_p:.3f} {mark(f.var_christoffersen_p >= P_PASS)}",
                f"{f.var_zone} {mark(f.var_zone == 'green')}",
                f"{f.chain_breaches}/{f.chain_scored_days} {f.chain_zone} "
                f"{mark(f.chain_zone == 'green')}",
            ]
            for f in report.feeds
        ],
    )
    return [values, vol, var]


def summary_notes(report: DemoReport) -> list[str]:
    """What the numbers mean and the checks' tally."""
    decimals = "/".join(map(str, sorted({f.on_chain_decimals for f in report.feeds}))) or "?"
    passed = sum(ok for f in report.feeds for ok in f.checks().values())
    total = sum(len(f.checks()) for f in report.feeds)
    failed = [f"{f.feed} {name}" for f in report.feeds for name, ok in f.checks().items() if not ok]
    return [
        f"vol: proved as ln(daily vol %); daily = exp(that), annual = daily x sqrt({TRADING_DAYS})",
        f"on-chain: VaR adapter's latestRoundData().answer, {decimals} decimals "
        f"(/ 10^{decimals} = VaR %)",
        f"✓/✗: QLIKE below the baseline's; Kupiec, Christoffersen p >= {P_PASS:g}; zone green",
        f"checks: {passed} of {total} pass" + (f"; failing: {', '.join(failed)}" if failed else ""),
        privacy_note(report),
        f"MarginEngine on {report.margin_feed}: initial margin {report.margin_bps} bps"
        + (" (fallback: feed stale)" if report.margin_used_fallback else "")
        + f"; total {report.total_seconds:.0f} s",
    ]


def privacy_note(report: DemoReport) -> str:
    """The model's record-level privacy as trained and as the registry holds it."""
    if report.record_epsilon is None:
        return "privacy: no record-level DP (trained without DP-SGD)"
    on_chain = (
        "not in the registry"
        if report.on_chain_record_epsilon is None
        else f"registry ε {report.on_chain_record_epsilon:.3f}"
    )
    return (
        f"privacy: DP-SGD ε {report.record_epsilon:.2f} per row, δ {_power_of_ten(report.dp_delta)}"
        f" ({on_chain})" + ("; SecAgg+ on" if report.secagg else "")
    )


def _power_of_ten(x: float | None) -> str:
    """1e-05 as "1e-5" (deltas are registered as 10^-k)."""
    if x is None:
        return "-"
    k = round(-math.log10(x))
    return f"1e-{k}" if math.isclose(x, 10.0**-k) else f"{x:g}"


def consumer_facing(name: str) -> bool:
    """The contracts a lending protocol points at (the console lists these; results/demo.md
    lists every adapter, the raw log-vol and annualised ones too)."""
    return not name.startswith("adapter ") or name.endswith(("/var99_pct", ":daily_pct"))


def _short(name: str) -> str:
    """A contract's console label: "sp500 daily vol %" for "adapter sp500/log_vol_pct:daily_pct"."""
    if not name.startswith("adapter "):
        return name
    feed, _, output = name.removeprefix("adapter ").partition("/")
    kinds = {"var99_pct": "VaR %", "log_vol_pct:daily_pct": "daily vol %"}
    return f"{feed} {kinds.get(output, output)}"


def summary_chain(report: DemoReport, everything: bool = True) -> tuple[str, list[str]]:
    """Where the system ran: the RPC URL and chain id, then one line per contract (`everything`
    False: only the consumer-facing ones, with short labels that fit 80 columns)."""
    shown = {
        (k if everything else _short(k)): v
        for k, v in report.contracts.items()
        if everything or consumer_facing(k)
    }
    width = max((len(name) for name in shown), default=0)
    return (
        f"chain: {report.rpc_url or '(none)'} (chain id {report.chain_id}); "
        f"{len(report.attesters)} attesters, threshold {report.threshold}",
        [f"{name:<{width}}  {address}" for name, address in shown.items()],
    )


def _markdown(table: SummaryTable) -> list[str]:
    return [
        f"**{table.title}**",
        "",
        "| " + " | ".join(table.columns) + " |",
        "|" + "---|" * len(table.columns),
        *("| " + " | ".join(row) + " |" for row in table.rows),
        "",
    ]


def write_report(report: DemoReport, results: Path) -> Path:
    """results/demo.json, results/demo.md and results/demo_qlike.png."""
    results.mkdir(parents=True, exist_ok=True)
    (results / "demo.json").write_text(json.dumps(asdict(report), indent=2))
    lines = ["# Proofcast demo", ""]
    for table in summary_tables(report):
        lines += _markdown(table)
    lines += [f"- {note}" for note in summary_notes(report)]
    chain, contracts = summary_chain(report)
    lines += [f"- {chain}", *(f"  - `{line}`" for line in contracts)]
    lines += [
        "",
        "## Details",
        "",
        f"- providers: {', '.join(report.providers)}; federated round {report.federated_round} "
        f"({report.aggregation}); DP epsilon: "
        f"{'off' if report.dp_epsilon is None else f'{report.dp_epsilon:.2f}'} (provider level), "
        f"{'off' if report.record_epsilon is None else f'{report.record_epsilon:.2f}'} (record "
        "level; both also in the registry's ModelRegistered)",
        f"- registered model hash (vol + VaR network): `{report.model_hash}`",
        f"- circuit: {report.num_feeds} feeds per proof, logrows {report.logrows}, "
        f"setup {report.setup_seconds:.1f} s; proof {report.prove_seconds:.1f} s (mean per round)",
        f"- published {report.days_published} consecutive business days per feed "
        f"({report.first_day} to {report.last_day}), one node round a day on a warped chain clock",
        f"- on-chain submit: {report.submit_gas:,} gas for the first report, "
        f"{report.gas_per_feed:,} per feed (fresh feed state and history-ring words); "
        f"{report.submit_gas_last:,} for the last (every feed's VaR scored; steady state in "
        "results/contracts.md)",
        f"- attesters: {len(report.attesters)}, threshold {report.threshold}; this round signed "
        f"by {', '.join(report.signers)}",
        *(f"  - {line}" for line in report.attestation),
        f"- wall time {report.total_seconds:.0f} s: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in report.step_seconds.items()),
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
    lines += [
        "",
        f"On chain: `RiskOracle.backtest(feedId)` after the {report.days_published} published "
        "days (each day's VaR scored on the next day's realised return; zone scaled to the days "
        "scored, `zoneOf`).",
        "",
        "| feed | days scored | breaches | zone | gaps | lifetime breaches |",
        "|---|---|---|---|---|---|",
        *(
            f"| {f.feed} | {f.chain_scored_days} | {f.chain_breaches} | {f.chain_zone} | "
            f"{f.chain_gaps} | {f.chain_lifetime_breaches} |"
            for f in report.feeds
        ),
    ]
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
