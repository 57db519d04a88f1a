"""`proofcast`: one CLI over the whole pipeline. Commands are thin layers over library calls."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from federated.cli import train_app
from oracle.attest.cli import attest_app
from oracle.chain.anvil import ANVIL_DEV_KEY
from oracle.errors import OracleError
from oracle.node.cli import data_app, keys_app, node_app
from oracle.ops.cli import admin_app, circuit_app, deploy

app = typer.Typer(
    help="Proofcast: verifiable federated risk models on chain.", no_args_is_help=True
)
bench = typer.Typer(help="Benchmarks: print numbers and write them under results/.")
app.add_typer(bench, name="bench")
app.add_typer(node_app, name="node")
app.add_typer(attest_app, name="attest")
app.add_typer(data_app, name="data")
app.add_typer(keys_app, name="keys")
app.add_typer(train_app, name="train")
app.add_typer(admin_app, name="admin")
app.add_typer(circuit_app, name="circuit")
app.command("deploy")(deploy)
console = Console()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    if not verbose:  # EZKL logs every step and a fidelity table at INFO/WARNING
        logging.getLogger("ezkl").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per attester request


RpcUrlOpt = Annotated[
    str | None, typer.Option(help="Use this chain instead of starting a local anvil.")
]
SrsOpt = Annotated[
    Path | None,
    typer.Option(help="Ceremony SRS file; without it a testing-only SRS is generated."),
]


def _deployer_key(rpc_url: str | None) -> str:
    """PROOFCAST_PRIVATE_KEY, else anvil's public dev key (with a warning on a given chain)."""
    key = os.environ.get("PROOFCAST_PRIVATE_KEY", ANVIL_DEV_KEY)
    if rpc_url and key == ANVIL_DEV_KEY:
        console.print("[yellow]PROOFCAST_PRIVATE_KEY not set: using anvil's public dev key[/]")
    return key


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where artifacts are written.")] = Path(
        "build/demo"
    ),
    results: Annotated[Path, typer.Option(help="Where the report is written.")] = Path("results"),
    rpc_url: RpcUrlOpt = None,
    srs: SrsOpt = None,
    rounds: Annotated[int, typer.Option(help="Federated rounds (FedSGD + server Adam).")] = 100,
    serve: Annotated[
        bool, typer.Option(help="Keep anvil and the explorer up until Ctrl-C.")
    ] = False,
    explorer_port: Annotated[int, typer.Option(help="Port of the explorer (--serve).")] = 8000,
    private: Annotated[
        bool,
        typer.Option(
            help="Record-level DP-SGD (epsilon 7.8 per row) under SecAgg+, as published; "
            "--no-private trains the non-private reference (to measure what DP costs)."
        ),
    ] = True,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Every component's log lines, not a summary.")
    ] = False,
) -> None:
    """The whole system from nothing: federated training on bundled data, circuit, local chain,
    contracts, model registration, 31 business days of proven batch updates of every feed (on a
    warped chain clock: 30 days of on-chain VaR backtest), a consumer margin, and the explorer's
    pages (results/explorer/index.html)."""
    from collections.abc import Callable, Iterator
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    if verbose:  # as `proofcast --verbose demo`
        logging.getLogger().setLevel(logging.DEBUG)
    verbose = verbose or logging.getLogger().level <= logging.DEBUG
    if not verbose:  # importing Flower sets up alembic's plugins, one INFO line each
        logging.getLogger("alembic").setLevel(logging.WARNING)

    from circuits.errors import CircuitError
    from oracle.demo import (
        DemoSettings,
        run_demo,
        summary_chain,
        summary_notes,
        summary_tables,
        write_report,
    )

    key = _deployer_key(rpc_url)
    settings = DemoSettings(
        workdir=workdir, results=results, rpc_url=rpc_url, private_key=key, srs=srs, rounds=rounds,
        serve_port=explorer_port if serve else None, verbose=verbose,
        **({} if private else {"record_dp_noise_multiplier": 0.0, "secagg": False}),
    )  # fmt: skip
    bars = Progress(
        *Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True,
    )  # fmt: skip

    @contextmanager
    def track(description: str, total: int | None) -> Iterator[Callable[[], None]]:
        task = bars.add_task(description, total=total)
        try:
            yield lambda: bars.advance(task)
        finally:
            bars.remove_task(task)

    try:
        with bars:
            report = run_demo(settings, progress=console.log, track=track)
    except (OracleError, CircuitError, RuntimeError, ValueError) as exc:
        console.print(f"[red]demo failed:[/] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    path = write_report(report, results)
    for summary in summary_tables(report):
        table = Table(title=summary.title, title_justify="left")
        for i, col in enumerate(summary.columns):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in summary.rows:
            table.add_row(*(cell.replace("✗", "[red]✗[/]") for cell in row))
        console.print(table)
    for note in summary_notes(report):
        console.print(note, highlight=False, markup=False)
    chain, contracts = summary_chain(report, everything=False)
    console.print(chain, highlight=False, markup=False)
    for line in contracts:
        console.print(f"  {line}", highlight=False, markup=False)
    console.print(f"  (every adapter, incl. raw log vol and annualised %: {path})", markup=False)
    console.print(f"[green]demo complete[/]: {path}, {results / 'explorer' / 'index.html'}")


@app.command()
def explorer(
    rpc_url: Annotated[str, typer.Option(help="RPC of the chain the oracle is on.")],
    oracle: Annotated[str | None, typer.Option(help="RiskOracle address.")] = None,
    deployment: Annotated[
        Path | None, typer.Option(help="Deployment file of `proofcast deploy` (for --oracle).")
    ] = None,
    federated: Annotated[
        Path | None, typer.Option(help="Federated output directory (round-*/manifest.json).")
    ] = None,
    journal: Annotated[Path | None, typer.Option(help="Node journal (SQLite) for Health.")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    refresh: Annotated[float, typer.Option(help="Seconds between page refreshes.")] = 5.0,
    heartbeat: Annotated[
        int | None, typer.Option(help="Seconds after which a feed is stale (default: its maxAge).")
    ] = None,
    adapter: Annotated[
        list[str] | None,
        typer.Option(help="Feed adapter address (repeat); default: the oracle's registry."),
    ] = None,
    from_block: Annotated[
        int | None,
        typer.Option(help="Search the oracle's events from here (default: its deployment's)."),
    ] = None,
    snapshot: Annotated[
        Path | None, typer.Option(help="Write the pages as static files here and exit.")
    ] = None,
) -> None:
    """Read-only web explorer of one RiskOracle: feeds, reports, models and node health."""
    from oracle.explorer.reader import ExplorerReader, connect_readonly
    from oracle.explorer.site import serve, write_static_site

    if refresh <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--refresh")
    if federated is not None and not federated.is_dir():
        what = "is not a directory" if federated.exists() else "does not exist"
        raise typer.BadParameter(f"{federated} {what}", param_hint="--federated")
    from oracle.ops.deployment import oracle_address

    try:
        address, record = oracle_address(oracle, deployment)
        if from_block is None:
            from_block = record.block if record else 0
        reader = ExplorerReader(
            connect_readonly(rpc_url), address, federated=federated, journal=journal,
            heartbeat=heartbeat, adapters=adapter, from_block=from_block,
        )  # fmt: skip
        if snapshot is not None:
            index = write_static_site(reader.snapshot(), snapshot)
            console.print(f"[green]explorer snapshot[/] at {index}")
            return
    except OracleError as exc:
        console.print(f"[red]explorer:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"Proofcast Explorer on http://{host}:{port} (Ctrl-C to stop)")
    serve(reader, host, port, refresh)


@app.command()
def selftest(
    workdir: Annotated[Path, typer.Option(help="Where artifacts and reports are written.")] = Path(
        "build/selftest"
    ),
    rpc_url: RpcUrlOpt = None,
    srs: SrsOpt = None,
) -> None:
    """Toolchain check: prove one placeholder prediction, verify it in Python and on chain,
    and check that tampered proofs are rejected."""
    from circuits.errors import CircuitError
    from oracle.selftest import run_selftest

    key = _deployer_key(rpc_url)
    try:
        report = run_selftest(workdir, rpc_url=rpc_url, private_key=key, srs=srs)
    except (OracleError, CircuitError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc

    table = Table(title="Proofcast end-to-end run")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("circuit logrows", str(report.logrows)),
        ("ONNX vs torch max |diff|", f"{report.onnx_max_abs_diff:.2e}"),
        ("setup time", f"{report.setup_seconds:.2f} s"),
        ("proof time", f"{report.prove_seconds:.2f} s"),
        ("verified in Python", str(report.python_verified)),
        ("proved outputs", ", ".join(f"{v:.5f}" for v in report.proved_outputs)),
        ("float outputs", ", ".join(f"{v:.5f}" for v in report.float_outputs)),
        ("verifier runtime size", f"{report.verifier_runtime_bytes} bytes"),
        ("verifier deploy gas", f"{report.deploy_gas:,}"),
        ("on-chain verification gas", f"{report.verify_gas:,}"),
        ("real proof accepted on chain", str(report.accepted_on_chain)),
        ("flipped-byte proof rejected", str(report.rejected_flipped_byte)),
        ("changed-output proof rejected", str(report.rejected_changed_output)),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    (workdir / "report.json").write_text(json.dumps(asdict(report), indent=2))
    ok = report.python_verified and report.accepted_on_chain
    ok = ok and report.rejected_flipped_byte and report.rejected_changed_output
    if not ok:
        console.print("[red]end-to-end checks failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]all checks passed[/]; report at {workdir / 'report.json'}")


@bench.command("circuits")
def bench_circuits(
    feeds: Annotated[str, typer.Option(help="Comma-separated batch sizes K.")] = "1,4,16",
    knobs: Annotated[
        bool, typer.Option(help="Measure every lever, not only today's config and the baseline.")
    ] = False,
    models: Annotated[str, typer.Option(help="Comma-separated: volatility, risk, oracle.")] = (
        "volatility,risk,oracle"
    ),
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    workdir: Annotated[Path, typer.Option(help="Scratch directory for circuits.")] = Path(
        "build/bench-circuits"
    ),
) -> None:
    """Circuit size, setup/prove/verify time, on-chain gas and quantisation error per K."""
    from oracle.chain.bench_circuits import KNOB_CONFIGS, benchmark_specs, run_circuits_benchmark

    sizes = [int(k) for k in feeds.split(",") if k.strip()]
    configs = KNOB_CONFIGS if knobs else KNOB_CONFIGS[:2]  # today's config and the baseline
    wanted = {m.strip() for m in models.split(",") if m.strip()}
    specs = [spec for spec in benchmark_specs() if spec.name in wanted]
    if not specs:
        raise typer.BadParameter(f"no known model in {models!r}", param_hint="--models")
    rows = run_circuits_benchmark(
        specs, out, workdir, feeds=sizes, configs=configs, progress=console.log
    )
    console.print((out / "circuits.md").read_text())
    console.print(f"{len(rows)} circuits measured; results in {out}/circuits.{{md,json}}")


@bench.command("contracts")
def bench_contracts(
    feeds: Annotated[str, typer.Option(help="Comma-separated batch sizes K.")] = "1,4,16",
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    workdir: Annotated[Path, typer.Option(help="Scratch directory.")] = Path(
        "build/bench-contracts"
    ),
) -> None:
    """Gas of the on-chain oracle: deploy, register, submit per K, latestRoundData."""
    from oracle.chain.gas_report import run_contracts_benchmark

    sizes = tuple(int(k) for k in feeds.split(",") if k.strip())
    run_contracts_benchmark(out, workdir, feeds=sizes, progress=console.log)
    console.print((out / "contracts.md").read_text())
    console.print(f"results in {out}/contracts.{{md,json}}")


@bench.command("federated")
def bench_federated(
    quick: Annotated[
        bool, typer.Option(help="Half the rounds, one left-out asset, no DP/SecAgg+ runs.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    workdir: Annotated[Path, typer.Option(help="Scratch directory.")] = Path(
        "build/bench-federated"
    ),
) -> None:
    """The published federated configuration per provider: vs training alone and the baselines
    (DM p-values, Kupiec), leave-one-asset-out, a x10 update attack, DP and SecAgg+ costs."""
    from federated.benchmark import BenchSettings, run_federated_benchmark

    settings = BenchSettings.quick() if quick else BenchSettings()
    run_federated_benchmark(out, workdir, settings, progress=console.log)
    console.print((out / "federated.md").read_text())
    console.print(f"results in {out}/federated.{{md,json}}, {out}/federated_*.png, coldstart.*")


@bench.command("privacy")
def bench_privacy(
    private_runs: Annotated[
        int, typer.Option(help="Independent DP noise draws of the private model.")
    ] = 3,
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    workdir: Annotated[Path, typer.Option(help="Scratch directory.")] = Path("build/bench-privacy"),
) -> None:
    """What privacy costs: the record-level clipping norm chosen on a validation split, and the
    demo's federation trained private (DP-SGD under SecAgg+) and not, scored on every demo feed
    against EWMA, GARCH and HAR-RV. Writes results/privacy.{md,json} (~10 min)."""
    from oracle.privacy_cost import markdown, run_privacy_bench

    logging.getLogger("alembic").setLevel(logging.WARNING)  # Flower's import: one line per plugin
    if private_runs < 1:
        raise typer.BadParameter("at least one private run", param_hint="--private-runs")
    summary = run_privacy_bench(out, workdir, private_runs, progress=console.log)
    console.print(markdown(summary))
    console.print(f"results in {out}/privacy.{{md,json}}")


@bench.command("coldstart")
def bench_coldstart(
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    private: Annotated[
        bool,
        typer.Option(help="Train as published (record-level DP-SGD); --no-private without DP."),
    ] = True,
) -> None:
    """Cold start alone (also part of `bench federated`): each asset left out of the published
    configuration, with 60 / 120 / 250 days of history, against EWMA, GARCH, HAR-RV and its own
    model over the following year. Writes results/coldstart.{md,json,png} (~5 min)."""
    from federated.coldstart import markdown, run_cold_start
    from federated.config import (
        PUBLISHED_LEARNING_RATE,
        PUBLISHED_ROUNDS,
        PUBLISHED_SERVER_LR,
        FederatedConfig,
    )

    summary = run_cold_start(
        out,
        rounds=PUBLISHED_ROUNDS,
        learning_rate=PUBLISHED_LEARNING_RATE,
        server_lr=PUBLISHED_SERVER_LR,
        record_dp=FederatedConfig().record_dp if private else None,  # the published DP-SGD
        progress=console.log,
    )
    console.print(markdown(summary))
    console.print(f"results in {out}/coldstart.{{md,json,png}}")


@bench.command("models")
def bench_models(
    series: Annotated[
        str, typer.Option(help="Comma-separated series: bundled names and/or 'stress'.")
    ] = "sp500,wti,aapl,msft,stress",
    refit_every: Annotated[int, typer.Option(help="Rows between refits (rolling origin).")] = 250,
    epochs: Annotated[int, typer.Option(help="Training epochs per refit.")] = 300,
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
) -> None:
    """Out-of-sample QLIKE / VaR backtests of the models vs HAR-RV, GARCH(1,1) and EWMA."""
    from models.benchmark import run_models_benchmark

    names = [s.strip() for s in series.split(",") if s.strip()]
    run_models_benchmark(out, names, refit_every=refit_every, epochs=epochs, progress=console.log)
    console.print((out / "models.md").read_text())
    console.print(f"results in {out}/models.{{md,json}} and {out}/models_*.png")


@bench.command("steering")
def bench_steering(
    scenarios: Annotated[
        str, typer.Option(help="Comma-separated honest-data scenarios: demo, noisy.")
    ] = "demo,noisy",
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
) -> None:
    """How far a transmitter (alone, or with one attester) moves the VaR and vol: the old
    10 bps tolerance rule vs the canonical rule, on the demo feeds (greedy search)."""
    from oracle.attest.benchmark import SCENARIOS, run_steering_benchmark

    names = [s.strip() for s in scenarios.split(",") if s.strip()]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown or not names:
        raise typer.BadParameter(f"--scenarios: use some of {', '.join(SCENARIOS)}")
    run_steering_benchmark(out, names, progress=console.log)
    console.print((out / "steering.md").read_text())
    console.print(f"results in {out}/steering.{{md,json}}")


@bench.command("node")
def bench_node(
    feeds: Annotated[int, typer.Option(help="Feeds per proof (K).")] = 2,
    rounds: Annotated[int, typer.Option(help="Rounds to publish.")] = 3,
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    workdir: Annotated[Path, typer.Option(help="Scratch directory.")] = Path("build/bench-node"),
    soak: Annotated[
        int, typer.Option(help="Instead: a node process through this many simulated days.")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Soak: seed of the fault plan.")] = 0,
    fault_rate: Annotated[float, typer.Option(help="Soak: share of days with a fault.")] = 0.4,
) -> None:
    """Node rounds on anvil: witness + proof time, tick time, gas per report and per feed;
    with --soak DAYS, a real node process through DAYS simulated days with injected faults."""
    if soak < 0 or not 0 <= fault_rate <= 1:
        raise typer.BadParameter("--soak must be >= 0 and --fault-rate in [0, 1]")
    if soak:
        from oracle.node.soak import run_soak

        report = run_soak(out, workdir / "soak", days=soak, feeds=feeds, seed=seed,
                          fault_rate=fault_rate, progress=console.log)  # fmt: skip
        console.print((out / "node_soak.md").read_text())
        console.print(f"results in {out}/node_soak.{{md,json}} and node_soak_staleness.png")
        if report.lost or report.duplicated:
            raise typer.Exit(1)
        return
    from oracle.node.benchmark import run_node_benchmark

    run_node_benchmark(out, workdir, feeds=feeds, rounds=rounds, progress=console.log)
    console.print((out / "node.md").read_text())
    console.print(f"results in {out}/node.{{md,json}}")


if __name__ == "__main__":
    app()
