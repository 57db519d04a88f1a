"""`proofcast train ...`: federated training commands (thin over `federated.*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from federated.config import DEFAULT_PROVIDERS, ConfigError, FederatedConfig

train_app = typer.Typer(help="Federated training with Flower (simulation or Deployment Engine).")
console = Console()


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` run-config overrides, values read as TOML scalars (as `flwr run -c` does)."""
    import tomllib

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected key=value, got {pair!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    try:
        FederatedConfig.from_run_config(out)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return out


def _show(output_dir: Path, rounds: int) -> None:
    from federated.manifest import load_manifest

    table = Table(title=f"Federated rounds ({output_dir})")
    failed: list[str] = []
    for col in (
        "round",
        "participants",
        "failed",
        "QLIKE",
        "VaR breaches",
        "epsilon (provider)",
        "epsilon (record)",
        "model hash",
    ):
        table.add_column(col)
    for rnd in range(1, rounds + 1):
        m = load_manifest(output_dir, rnd)
        failed += [f"round {rnd}: {reason}" for reason in m.failure_reasons]
        eps, record_eps = m.dp.get("epsilon"), m.dp.get("record_epsilon")
        table.add_row(
            str(rnd),
            str(len(m.participants)),
            str(m.failures),
            f"{m.metrics.get('qlike', float('nan')):.4f}",
            f"{100 * m.metrics.get('var-breach-rate', float('nan')):.2f}%",
            "-" if eps is None else f"{eps:.3g}",
            "-" if record_eps is None else f"{record_eps:.3g}",
            m.model_hashes["volatility"][:18] + "...",
        )
    console.print(table)
    for line in failed:
        console.print(f"[yellow]failed[/] {line}", highlight=False)


ConfigOpt = Annotated[
    list[str] | None,
    typer.Option("--run-config", "-c", help="Run-config override key=value (repeatable)."),
]


@train_app.command("simulate")
def simulate_cmd(
    run_config: ConfigOpt = None,
    output_dir: Annotated[Path, typer.Option(help="Where round models go.")] = Path(
        "build/federated"
    ),
) -> None:
    """Train in Flower's simulation engine, one simulated node per provider."""
    from federated.simulation import simulate

    overrides = _parse_overrides(run_config or [])
    out = simulate(output_dir, **overrides)
    _show(out, FederatedConfig.from_run_config(overrides).num_server_rounds)


@train_app.command("deploy")
def deploy_cmd(
    providers: Annotated[
        str, typer.Option(help="Comma-separated data specs, one SuperNode each.")
    ] = DEFAULT_PROVIDERS,
    run_config: ConfigOpt = None,
    workdir: Annotated[Path, typer.Option(help="Logs, Flower homes and outputs.")] = Path(
        "build/federation"
    ),
    timeout: Annotated[float, typer.Option(help="Seconds allowed for the run.")] = 1800.0,
) -> None:
    """Start a SuperLink + one SuperNode per provider on loopback, run the app, stop them all."""
    from federated.deployment import DeploymentError, run_deployment

    specs = [p.strip() for p in providers.split(",") if p.strip()]
    overrides = _parse_overrides(run_config or [])
    try:
        out = run_deployment(workdir, specs, overrides, timeout=timeout)
    except DeploymentError as exc:
        console.print(f"[red]deployment failed:[/] {exc}")
        raise typer.Exit(1) from exc
    _show(out, FederatedConfig.from_run_config(overrides).num_server_rounds)


@train_app.command("receipt")
def receipt_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Receipt file (default: $PROOFCAST_RECEIPT_DIR or ~/.proofcast/receipts, "
            "the only one there).",
        ),
    ] = None,
) -> None:
    """What this provider gave: rounds joined, rows, its record-level epsilon by its own
    accountant, and the model each round led to.

    Example: proofcast train receipt ~/.proofcast/receipts/acme-desk.json
    """
    from federated.receipt import ReceiptError, load_receipt, receipt_path, render

    if path is None:
        directory = receipt_path({}, "x").parent
        found = sorted(directory.glob("*.json")) if directory.is_dir() else []
        if len(found) != 1:
            console.print(
                f"[red]error:[/] {len(found)} receipts in {directory}; name one: "
                "proofcast train receipt FILE"
            )
            raise typer.Exit(1)
        path = found[0]
    try:
        typer.echo(render(load_receipt(path)))
    except ReceiptError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
