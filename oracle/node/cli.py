"""Operator commands: `proofcast node ...`, `proofcast data ...`, `proofcast keys ...`.

Thin over the library: each command loads the config, builds a `Node` and calls one method.
Keys are never accepted as arguments: they come from the keystore named in the config (password
in $PROOFCAST_KEYSTORE_PASSWORD or prompted) or from $PROOFCAST_PRIVATE_KEY.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from models.data import TRAINING_GAP_POLICY
from oracle.errors import OracleError

node_app = typer.Typer(help="Run and inspect an oracle node.", no_args_is_help=True)
data_app = typer.Typer(help="Import and inspect market data.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Create and inspect the node's encrypted keystore.", no_args_is_help=True
)
console = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Node TOML config file.")]
DeploymentOpt = Annotated[
    Path | None,
    typer.Option(help="Deployment file of `proofcast deploy`: overrides node.oracle_address."),
]
RpcOpt = Annotated[str | None, typer.Option(help="Override node.rpc_url.")]
ChainOpt = Annotated[int | None, typer.Option(help="Override node.chain_id.")]


# One-shot commands (status, publish-once, prove-once) give up on an unreachable RPC after
# ONE_SHOT_ATTEMPTS tries, waiting at most ONE_SHOT_BACKOFF_MAX between them (a refused
# connection: about 1.5 s in all); `node run` keeps retrying until it is stopped.
ONE_SHOT_ATTEMPTS = 3
ONE_SHOT_BACKOFF_MAX = 2.0


def _fail(exc: Exception | str) -> typer.Exit:
    """Print `error: <exc>` on one line (no wrapping, no markup from the message) and exit 1."""
    from rich.markup import escape

    console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(1)


def _calendar(value: str) -> str:
    """`--calendar`: one of models.data.CALENDARS, or a usage error listing them."""
    from models.data import check_calendar

    try:
        return check_calendar(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _gap_policy(value: str) -> str:
    from models.data import GAP_POLICIES

    if value not in GAP_POLICIES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(GAP_POLICIES)}")
    return value


CalendarOpt = Annotated[
    str, typer.Option(help="business or daily (gap check).", callback=_calendar)
]


def _build_node(
    config_path: Path, flags: dict[str, Any], json_logs: bool = False, one_shot: bool = True
) -> Any:
    """Load and check the config, the key, the circuit, the chain and the contract; the
    journal is opened (created) only after all of that passed."""
    from circuits.errors import CircuitError
    from oracle.node.config import load_config, with_overrides
    from oracle.node.errors import ConfigError
    from oracle.node.keys import load_key
    from oracle.node.logs import configure_node_logging
    from oracle.node.runner import Node
    from oracle.node.sources import CsvDirectorySource

    try:
        deployment = flags.pop("deployment", None)
        record = None
        if deployment is not None:
            from oracle.ops.deployment import DeploymentFile

            record = DeploymentFile.read(deployment)
            flags["oracle_address"] = record.oracle
        config = load_config(config_path, flags)
        if record is not None and record.chain_id != config.chain_id:
            raise ConfigError(
                f"deployment file {deployment} is for chain {record.chain_id}, "
                f"node.chain_id is {config.chain_id}"
            )
        if one_shot:
            config = with_overrides(
                config,
                backoff_initial_seconds=min(config.backoff_initial_seconds, 1.0),
                backoff_max_seconds=min(config.backoff_max_seconds, ONE_SHOT_BACKOFF_MAX),
            )
        key = load_key(config.keystore, _env_with_password(config.keystore))
        configure_node_logging(key, json_logs)
        source = CsvDirectorySource(config.source_dir, calendar=config.calendar)
        attempts = ONE_SHOT_ATTEMPTS if one_shot else 0
        return Node(config, key, source, config.journal, rpc_attempts=attempts)
    except (OracleError, CircuitError) as exc:
        raise _fail(exc) from exc


def _env_with_password(keystore: Path | None) -> dict[str, str]:
    from oracle.node.keys import PASSWORD_ENV

    env = dict(os.environ)
    if keystore is not None and PASSWORD_ENV not in env and sys.stdin.isatty():
        env[PASSWORD_ENV] = typer.prompt(f"password for {keystore}", hide_input=True)
    return env


@node_app.command("run")
def node_run(
    config: ConfigOpt,
    rpc_url: RpcOpt = None,
    chain_id: ChainOpt = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus /metrics on 127.0.0.1:PORT.")
    ] = None,
    once: Annotated[bool, typer.Option(help="One iteration, then exit.")] = False,
    json_logs: Annotated[bool, typer.Option(help="Log JSON lines to stderr.")] = False,
) -> None:
    """Publish proven forecasts on heartbeat/deviation until SIGTERM or Ctrl-C."""
    from oracle.node.metrics import MetricsServer

    flags = {"rpc_url": rpc_url, "chain_id": chain_id, "metrics_port": metrics_port}
    node = _build_node(config, flags, json_logs, one_shot=once)
    server = None
    if node.config.metrics_port is not None:
        server = MetricsServer(node.metrics, node.config.metrics_port).start()
        node_log(f"metrics at http://127.0.0.1:{server.port}/metrics")
    signal.signal(signal.SIGTERM, lambda *_: node.stop())
    signal.signal(signal.SIGINT, lambda *_: node.stop())
    try:
        node.run(max_ticks=1 if once else None)
    except OracleError as exc:
        raise _fail(exc) from exc
    finally:
        if server is not None:
            server.stop()
        node.journal.close()
    node_log("clean shutdown")


def node_log(message: str) -> None:
    import logging

    logging.getLogger("proofcast.node").info(message)


@node_app.command("publish-once")
def node_publish_once(
    config: ConfigOpt,
    rpc_url: RpcOpt = None,
    chain_id: ChainOpt = None,
    deployment: DeploymentOpt = None,
) -> None:
    """Prove and publish the latest observation now (if it is newer than what is on chain).
    Exits 1 when nothing was published, saying why (e.g. the observation's round was abandoned:
    `proofcast node retry ROUND` publishes it again).

    Example:

        proofcast node publish-once -c node.toml --deployment deployment.json
    """
    flags = {"rpc_url": rpc_url, "chain_id": chain_id, "deployment": deployment}
    node = _build_node(config, flags)
    try:
        result = node.tick(force=True)
    except OracleError as exc:
        raise _fail(exc) from exc
    finally:
        node.journal.close()
    if result.round is None:
        why = result.skipped or "no feed has an observation newer than the chain's: " + "; ".join(
            f"{d.feed}: {d.reason}" for d in result.decisions
        )
        raise _fail(f"nothing published: {why}")
    rnd = result.round
    console.print(f"round {rnd.id}: {rnd.state} {rnd.tx_hash or ''} {rnd.error or ''}")
    if rnd.state != "confirmed":
        raise typer.Exit(1)


@node_app.command("prove-once")
def node_prove_once(config: ConfigOpt, rpc_url: RpcOpt = None) -> None:
    """Prove the latest observation of every feed and verify the proof locally (no submission)."""
    import numpy as np

    from circuits.pipeline import prove, verify

    node = _build_node(config, {"rpc_url": rpc_url})
    try:
        rows = np.stack([node.source.observe(f).features for f in node.config.feeds])
    except OracleError as exc:
        raise _fail(exc) from exc
    with console.status("proving"):
        proof = prove(node.artifacts, rows, "prove-once", node.compiled)
    outputs = node.layout.float_outputs(proof.instances)
    table = Table(
        title=f"proof in {proof.prove_seconds:.1f}s, verified: {verify(node.artifacts, proof.path)}"
    )
    table.add_column("feed")
    for name in node.layout.output_names:
        table.add_column(name, justify="right")
    for feed, row in zip(node.config.feeds, outputs, strict=True):
        table.add_row(feed.name, *(f"{v:.5f}" for v in row))
    Console().print(table)
    console.print(f"proof: {proof.path}")


@node_app.command("status")
def node_status(
    config: ConfigOpt,
    rpc_url: RpcOpt = None,
    chain_id: ChainOpt = None,
    deployment: DeploymentOpt = None,
) -> None:
    """Feeds (on-chain value, round, staleness), model hash, balance and the last rounds.

    Example:

        proofcast node status -c node.toml --deployment deployment.json
    """
    from oracle.node.retry import TRANSIENT

    node = _build_node(config, {"rpc_url": rpc_url, "chain_id": chain_id, "deployment": deployment})
    try:
        _print_status(node)
    except TRANSIENT as exc:
        raise _fail(
            f"RPC {node.config.rpc_url} failed during status: {type(exc).__name__}"
        ) from exc
    except OracleError as exc:
        raise _fail(exc) from exc
    finally:
        node.journal.close()


@node_app.command("retry")
def node_retry(
    round_id: Annotated[int, typer.Argument(help="Journal round id (see `node status`).")],
    config: ConfigOpt,
) -> None:
    """Free the observation of an abandoned or reverted round so the next `publish-once` or
    `run` tick publishes it in a new round (the old round stays in the journal). Refuses a
    confirmed or unfinished round. Run it while the node is stopped.

    Example:

        proofcast node retry 7 -c node.toml && proofcast node publish-once -c node.toml
    """
    from oracle.node.config import load_config
    from oracle.node.journal import Journal

    try:
        cfg = load_config(config)
        if not cfg.journal.is_file():
            raise FileNotFoundError(f"no journal at {cfg.journal}")
        with Journal(cfg.journal) as journal:
            released = journal.release(round_id)
    except (OracleError, OSError) as exc:
        raise _fail(exc) from exc
    console.print(
        f"round {released.id} ({released.state}: {released.error or 'no error recorded'}) "
        f"released; its observation ({', '.join(released.due_feeds)}) can be published again"
    )


def _print_status(node: Any) -> None:
    now = time.time()
    feeds = Table(title=f"oracle {node.config.oracle_address} on chain {node.chain_id}")
    # Both clocks a consumer checks: since the round was accepted (the adapters' updatedAt,
    # against the heartbeat) and since the bar closed (their startedAt: the data's own age).
    for col in ("feed", "report", *node.layout.output_names, "observed at", "data age"):
        feeds.add_column(col)
    feeds.add_column("since update")
    feeds.add_column("heartbeat")
    for feed in node.config.feeds:
        value = node.publisher.latest(feed.name)
        report = node.publisher.latest_round_id(feed.name) >> 8  # roundId = reportId << 8 | slot
        if value is None:
            dashes = ["-"] * (len(node.layout.output_names) + 3)
            feeds.add_row(feed.name, "-", *dashes, f"{feed.heartbeat_seconds:.0f}s")
            continue
        stale = now - value.updated_at
        late = "[red]" if stale > feed.heartbeat_seconds else ""
        feeds.add_row(
            feed.name,
            str(report),
            *(f"{a:.6f}" for a in value.answers),
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(value.observed_at)),
            f"{(now - value.observed_at) / 3600:.1f}h",
            f"{late}{stale:.0f}s",
            f"{feed.heartbeat_seconds:.0f}s",
        )
    out = Console()
    out.print(feeds)
    balance = node.w3.eth.get_balance(node.key.address)
    out.print(f"transmitter {node.key.address}: {balance / 10**18:.6f} ETH")
    out.print(
        f"circuit model hash {node.manifest.model_hash} (model: {node.config.model or 'built'})"
    )
    config = node.publisher.attester_config()
    out.print(
        f"attesters: {len(config.attesters)} on chain (threshold {config.threshold}, config "
        f"version {config.version}); endpoints: {', '.join(node.attestors.urls)}"
    )
    rounds = Table(title=f"last rounds ({node.journal.path})")
    for col in ("id", "state", "feeds", "signers", "observed at", "nonce", "gas", "error"):
        rounds.add_column(col)
    for rnd in node.journal.iter_recent(10):
        rounds.add_row(
            str(rnd.id),
            rnd.state,
            ",".join(rnd.due_feeds),
            str(len((rnd.attestation or {}).get("signers", []))),
            time.strftime("%Y-%m-%d", time.gmtime(max(rnd.slot_times or [0]))),
            "-" if rnd.nonce is None else str(rnd.nonce),
            "-" if rnd.gas_used is None else f"{rnd.gas_used:,}",
            rnd.error or "",
        )
    out.print(rounds)


@data_app.command("inspect")
def data_inspect(
    path: Annotated[Path, typer.Argument(help="OHLC CSV (date,open,high,low,close[,volume]).")],
    calendar: CalendarOpt = "business",
    gap_policy: Annotated[
        str,
        typer.Option(
            help="Date gaps: report (as training loads a provider file: warn, keep going), "
            "error (as the node and attesters do), or fill (flat bars at the last close).",
            callback=_gap_policy,
        ),
    ] = TRAINING_GAP_POLICY,
) -> None:
    """Validate a price file and show its range and latest features (what the node proves)."""
    import warnings

    from models.data import DataGapWarning, DataValidationError, load_ohlc_csv
    from models.features import FEATURE_NAMES, InsufficientHistoryError, latest_features

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataGapWarning)
            series = load_ohlc_csv(path, gap_policy=gap_policy, calendar=calendar)  # type: ignore[arg-type]
        features = latest_features(series)
    except (DataValidationError, InsufficientHistoryError, OSError) as exc:
        raise _fail(exc) from exc
    for w in caught:
        if issubclass(w.category, DataGapWarning):
            console.print(
                f"[yellow]{w.message}[/]: training accepts it (--gap-policy report); the node "
                "and attesters refuse any gap (--gap-policy error)"
            )
    table = Table(title=f"{path}: {len(series)} bars, {series.dates[0]} .. {series.dates[-1]}")
    table.add_column("feature")
    table.add_column("latest", justify="right")
    for name, value in zip(FEATURE_NAMES, features, strict=True):
        table.add_row(name, f"{value:.5f}")
    Console().print(table)


@data_app.command("import")
def data_import(
    path: Annotated[Path, typer.Argument(help="OHLC CSV to validate and import.")],
    source_dir: Annotated[Path, typer.Option(help="The node's source directory.")],
    name: Annotated[str, typer.Option(help="File name in the source directory.")],
    calendar: CalendarOpt = "business",
) -> None:
    """Validate a price file and copy it into the node's source directory (atomically)."""
    from models.data import DataValidationError, load_ohlc_csv

    try:
        series = load_ohlc_csv(path, gap_policy="error", calendar=calendar)  # type: ignore[arg-type]
    except (DataValidationError, OSError) as exc:
        raise _fail(exc) from exc
    source_dir.mkdir(parents=True, exist_ok=True)
    tmp = source_dir / f".{name}.tmp"
    shutil.copyfile(path, tmp)
    tmp.replace(source_dir / name)
    console.print(f"imported {len(series)} bars to {source_dir / name}")


@keys_app.command("new")
def keys_new(
    out: Annotated[Path, typer.Option(help="Keystore file to write (mode 0600).")],
) -> None:
    """Create a fresh key in an encrypted keystore (password from $PROOFCAST_KEYSTORE_PASSWORD
    or prompted); prints the address only."""
    from eth_account import Account

    from oracle.node.keys import PASSWORD_ENV, SigningKey, write_keystore

    if out.exists():
        raise _fail(FileExistsError(f"{out} exists; refusing to overwrite a keystore"))
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "keystore password", hide_input=True, confirmation_prompt=True
    )
    key = SigningKey("0x" + bytes(Account.create().key).hex())
    write_keystore(key, out, password)
    console.print(f"wrote {out} for address {key.address}")


@keys_app.command("address")
def keys_address(
    keystore: Annotated[Path | None, typer.Option(help="Keystore file (else the env key).")] = None,
) -> None:
    """Print the address of the configured key (never the key)."""
    from oracle.node.keys import load_key

    try:
        key = load_key(keystore, _env_with_password(keystore))
    except OracleError as exc:
        raise _fail(exc) from exc
    print(key.address)
