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

from oracle.anvil import ANVIL_DEV_KEY
from oracle.errors import OracleError
from oracle.node.cli import data_app, keys_app, node_app

app = typer.Typer(
    help="Proofcast: verifiable federated risk models on chain.", no_args_is_help=True
)
bench = typer.Typer(help="Benchmarks: print numbers and write them under results/.")
app.add_typer(bench, name="bench")
app.add_typer(node_app, name="node")
app.add_typer(data_app, name="data")
app.add_typer(keys_app, name="keys")
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


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where artifacts and reports are written.")] = Path(
        "build/demo"
    ),
    rpc_url: Annotated[
        str | None, typer.Option(help="Use this chain instead of starting a local anvil.")
    ] = None,
    srs: Annotated[
        Path | None,
        typer.Option(help="Ceremony SRS file; without it a testing-only SRS is generated."),
    ] = None,
) -> None:
    """Run the pipeline end to end: model -> ONNX -> EZKL proof -> on-chain verification."""
    from circuits.errors import CircuitError
    from oracle.pipeline import run_pipeline

    key = os.environ.get("PROOFCAST_PRIVATE_KEY", ANVIL_DEV_KEY)
    if rpc_url and key == ANVIL_DEV_KEY:
        console.print("[yellow]PROOFCAST_PRIVATE_KEY not set: using anvil's public dev key[/]")
    try:
        report = run_pipeline(workdir, rpc_url=rpc_url, private_key=key, srs=srs)
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
        ("register VKA gas", f"{report.register_vka_gas:,}"),
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
    knobs: Annotated[bool, typer.Option(help="Also measure the EZKL knob variants.")] = False,
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    workdir: Annotated[Path, typer.Option(help="Scratch directory for circuits.")] = Path(
        "build/bench-circuits"
    ),
) -> None:
    """Circuit size, setup/prove/verify time, on-chain gas and quantisation error per K."""
    from circuits.pipeline import CircuitConfig
    from oracle.bench_circuits import KNOB_CONFIGS, benchmark_specs, run_circuits_benchmark

    sizes = [int(k) for k in feeds.split(",") if k.strip()]
    configs = KNOB_CONFIGS if knobs else (("default", CircuitConfig()),)
    rows = run_circuits_benchmark(
        benchmark_specs(), out, workdir, feeds=sizes, configs=configs, progress=console.log
    )
    console.print((out / "circuits.md").read_text())
    console.print(f"{len(rows)} circuits measured; results in {out}/circuits.{{md,json}}")


@bench.command("contracts")
def bench_contracts(
    feeds: Annotated[str, typer.Option(help="Comma-separated batch sizes K.")] = "1,16",
    out: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    workdir: Annotated[Path, typer.Option(help="Scratch directory.")] = Path(
        "build/bench-contracts"
    ),
) -> None:
    """Gas of the on-chain oracle: deploy, register, submit per K, latestRoundData."""
    from oracle.gas_report import run_contracts_benchmark

    sizes = tuple(int(k) for k in feeds.split(",") if k.strip())
    run_contracts_benchmark(out, workdir, feeds=sizes, progress=console.log)
    console.print((out / "contracts.md").read_text())
    console.print(f"results in {out}/contracts.{{md,json}}")
