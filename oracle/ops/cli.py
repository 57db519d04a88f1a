"""Operator commands: `proofcast deploy`, `proofcast admin ...`, `proofcast circuit ...`.

Thin over `oracle.ops`: each command opens the chain (bounded retries: an unreachable RPC is one
line after a few attempts), checks that the oracle is a RiskOracle, and calls one function.
Keys are never arguments: `--keystore FILE` (password in $PROOFCAST_KEYSTORE_PASSWORD or
prompted) or $PROOFCAST_PRIVATE_KEY. Limits and durations are in human units (`oracle.ops.units`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from oracle.node.cli import _env_with_password, _fail

admin_app = typer.Typer(
    help="Administer a deployed RiskOracle (governed changes act at once before its first "
    "report, then are queued for its governance delay).",
    no_args_is_help=True,
)
circuit_app = typer.Typer(help="Compile federated rounds into circuits.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)  # one line per fact: easy to read and to grep

RpcUrl = Annotated[str, typer.Option(help="RPC endpoint of the chain.")]
OracleOpt = Annotated[str | None, typer.Option(help="RiskOracle address (or --deployment).")]
DeploymentOpt = Annotated[
    Path | None,
    typer.Option(help="Deployment file written by `proofcast deploy` (instead of --oracle)."),
]
KeystoreOpt = Annotated[
    Path | None,
    typer.Option(help="Admin keystore (else $PROOFCAST_PRIVATE_KEY); never a key argument."),
]


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Every expected failure as `error: ...` on one line, exit status 1."""
    from circuits.errors import CircuitError
    from federated.manifest import ManifestError
    from oracle.errors import OracleError
    from oracle.node.retry import TRANSIENT

    try:
        yield
    except TRANSIENT as exc:
        raise _fail(f"RPC failed: {type(exc).__name__}: {str(exc)[:200]}") from exc
    except (OracleError, CircuitError, ManifestError, ValueError, OSError) as exc:
        raise _fail(exc) from exc


def _key(keystore: Path | None) -> str:
    from oracle.node.keys import load_key

    return load_key(keystore, _env_with_password(keystore)).reveal()


def _admin(
    rpc_url: str, oracle: str | None, deployment: Path | None, keystore: Path | None,
    signing: bool = True,
) -> Any:  # fmt: skip
    """(stack, deployment file or None): the checked RiskOracle, with the admin's key."""
    from oracle.ops.admin import attach
    from oracle.ops.deployment import oracle_address
    from oracle.ops.rpc import check_oracle, open_chain

    address, record = oracle_address(oracle, deployment)
    w3 = open_chain(
        rpc_url, _key(keystore) if signing else None, record.chain_id if record else None
    )
    check_oracle(w3, address)
    outputs = tuple(record.outputs) if record and record.outputs else None
    return attach(w3, address, outputs), record


def _tx(receipt: dict[str, Any]) -> str:
    raw = receipt.get("transactionHash")
    return "0x" + bytes(raw).hex() if raw is not None else "-"


def _report(applied: Any) -> None:
    if applied.executed:
        out.print(f"[green]done[/]: {applied.what} (tx {_tx(applied.receipt or {})})")
        return
    change = applied.change
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(change.eta))
    verb = "already queued" if applied.already_queued else "queued"
    out.print(
        f"[yellow]{verb}[/]: {applied.what} as change 0x{change.id.hex()}; executable from "
        f"{when} (block time {change.eta}): run `proofcast admin execute 0x{change.id.hex()}` "
        "(or this command again) then"
    )


# ---------------------------------------------------------------------------------- deploy


def deploy(
    rpc_url: RpcUrl,
    circuit: Annotated[Path, typer.Option(help="Circuit directory (its verifier is deployed).")],
    feeds: Annotated[str, typer.Option(help="Comma-separated feed names, one per proof slot.")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Deployment file to write (JSON).")
    ] = Path("deployment.json"),
    keystore: KeystoreOpt = None,
    margin_engine: Annotated[
        bool, typer.Option(help="Also deploy the example MarginEngine on the first feed's VaR.")
    ] = False,
    governance_delay: Annotated[
        str, typer.Option(help="Delay of governed changes after the first report: 2d, 6h, 0.")
    ] = "2d",
    chain_id: Annotated[int | None, typer.Option(help="Refuse any other chain id.")] = None,
) -> None:
    """Deploy a circuit's verifier, a RiskOracle, one Chainlink-style adapter per feed output
    and (--margin-engine) the example MarginEngine; write the addresses to a deployment file
    that `admin`, `node`, and `explorer` read with --deployment.

    The deploying account becomes the oracle's admin and an allowed transmitter. Feeds start
    with the default guardrails of their outputs (change them with `admin configure-feed`).

    Example:

        proofcast deploy --rpc-url http://127.0.0.1:8545 --circuit build/circuit
        --feeds sp500,aapl --margin-engine --governance-delay 2d --out deployment.json
    """
    from oracle.ops.deploy import deploy_stack
    from oracle.ops.rpc import open_chain
    from oracle.ops.units import parse_duration

    with one_line_errors():
        delay = parse_duration(governance_delay)
        if out_file.exists():
            raise FileExistsError(f"{out_file} exists; refusing to overwrite a deployment file")
        names = [f.strip() for f in feeds.split(",") if f.strip()]
        w3 = open_chain(rpc_url, _key(keystore), chain_id)
        _, record = deploy_stack(
            w3, circuit, names, margin_engine, delay, progress=lambda m: console.print(m)
        )
        record.write(out_file)
    table = Table(title=f"deployed on chain {record.chain_id} from block {record.block}")
    table.add_column("contract")
    table.add_column("address")
    table.add_row("verifier", record.verifier)
    table.add_row("RiskOracle", record.oracle)
    for key, address in record.adapters.items():
        table.add_row(f"adapter {key}", address)
    if record.margin_engine:
        table.add_row("MarginEngine", record.margin_engine)
    out.print(table)
    out.print(f"admin {record.admin}, governance delay {delay} s; wrote {out_file}")


# ----------------------------------------------------------------------------------- admin


@admin_app.command("configure-feed")
def admin_configure_feed(
    feed: Annotated[str, typer.Argument(help="Feed name (its id is keccak256 of the name).")],
    rpc_url: RpcUrl,
    limit: Annotated[
        list[str] | None,
        typer.Option(
            help="OUTPUT=MIN:MAX:MAX_DELTA[:MAX_WINDOW_DELTA] in the output's unit (percent; "
            "a % sign is allowed), repeat per output; unset outputs keep the defaults."
        ),
    ] = None,
    max_age: Annotated[str, typer.Option(help="Oldest observation accepted: 26h, 1d.")] = "26h",
    min_delay: Annotated[str, typer.Option(help="Least time between updates: 0, 1h.")] = "0",
    window: Annotated[str, typer.Option(help="Cumulative-change window (0: none).")] = "0",
    decimals: Annotated[int, typer.Option(help="Answer decimals: 8 or 18.")] = 8,
    disable: Annotated[bool, typer.Option(help="Refuse this feed's reports.")] = False,
    oracle: OracleOpt = None,
    deployment: DeploymentOpt = None,
    keystore: KeystoreOpt = None,
) -> None:
    """Create or update a feed's freshness, pacing and per-output guardrails (governed).

    Limits are in the output's own unit, converted once to the oracle's fixed point (bounds
    rounded inward, deltas down).

    Example:

        proofcast admin configure-feed sp500 --rpc-url http://127.0.0.1:8545
        --deployment deployment.json --limit var99_pct=0:20%:10% --limit log_vol_pct=-5:5:2
        --max-age 26h
    """
    from oracle.chain.contracts import configure_feed_call
    from oracle.ops.admin import apply_governed
    from oracle.ops.feeds import feed_spec
    from oracle.ops.units import parse_duration, parse_limit

    with one_line_errors():
        overrides = [parse_limit(text, decimals) for text in limit or []]
        stack, _ = _admin(rpc_url, oracle, deployment, keystore)
        spec = feed_spec(
            feed, stack.layout.output_names, decimals, parse_duration(max_age), overrides,
            min_delay=parse_duration(min_delay), window=parse_duration(window),
            enabled=not disable,
        )  # fmt: skip
        for output, limits in zip(spec.outputs, spec.limits(stack.layout.output_scale),
                                  strict=True):  # fmt: skip
            scale = 2**stack.layout.output_scale
            console.print(
                f"{feed}/{output.name}: [{limits[0] / scale:g}, {limits[1] / scale:g}], "
                f"max change {limits[2] / scale:g} (fixed point {limits})"
            )
        applied = apply_governed(stack, configure_feed_call(stack, spec), f"configureFeed({feed})")
    _report(applied)


@admin_app.command("set-attesters")
def admin_set_attesters(
    attesters: Annotated[list[str], typer.Argument(help="Attester addresses.")],
    rpc_url: RpcUrl,
    threshold: Annotated[int, typer.Option(help="Signatures a report needs (f + 1).")],
    oracle: OracleOpt = None,
    deployment: DeploymentOpt = None,
    keystore: KeystoreOpt = None,
) -> None:
    """Replace the attester set and threshold (governed; bumps the config version).

    Example:

        proofcast admin set-attesters 0xA1.. 0xB2.. 0xC3.. 0xD4.. --threshold 2
        --rpc-url http://127.0.0.1:8545 --deployment deployment.json
    """
    from web3 import Web3

    from oracle.chain.contracts import set_attesters_call
    from oracle.ops.admin import apply_governed

    with one_line_errors():
        bad = [a for a in attesters if not Web3.is_address(a)]
        if bad:
            raise ValueError(f"not an address: {', '.join(bad)}")
        if not 1 <= threshold <= len(attesters):
            raise ValueError(f"--threshold {threshold}: must be 1..{len(attesters)}")
        stack, _ = _admin(rpc_url, oracle, deployment, keystore)
        fn = set_attesters_call(stack, attesters, threshold)
        applied = apply_governed(
            stack, fn, f"setAttesters({len(attesters)} attesters, threshold {threshold})"
        )
    _report(applied)


@admin_app.command("allow-transmitter")
def admin_allow_transmitter(
    transmitter: Annotated[str, typer.Argument(help="The node's address (`keys address`).")],
    rpc_url: RpcUrl,
    revoke: Annotated[bool, typer.Option(help="Disallow it instead.")] = False,
    oracle: OracleOpt = None,
    deployment: DeploymentOpt = None,
    keystore: KeystoreOpt = None,
) -> None:
    """Allow (or --revoke) a node account to submit reports (governed).

    Example:

        proofcast admin allow-transmitter 0xNODE.. --rpc-url http://127.0.0.1:8545
        --deployment deployment.json
    """
    from web3 import Web3

    from oracle.chain.contracts import set_transmitter_call
    from oracle.ops.admin import apply_governed

    with one_line_errors():
        if not Web3.is_address(transmitter):
            raise ValueError(f"{transmitter!r} is not an address")
        stack, _ = _admin(rpc_url, oracle, deployment, keystore)
        fn = set_transmitter_call(stack, transmitter, not revoke)
        applied = apply_governed(stack, fn, f"setTransmitter({transmitter}, {not revoke})")
    _report(applied)


@admin_app.command("register-model")
def admin_register_model(
    rpc_url: RpcUrl,
    from_manifest: Annotated[
        Path, typer.Option(help="Federated round directory (round-NNN with manifest.json).")
    ],
    activates_at: Annotated[
        int, typer.Option(help="Unix time from which its reports are accepted (0: at once).")
    ] = 0,
    oracle: OracleOpt = None,
    deployment: DeploymentOpt = None,
    keystore: KeystoreOpt = None,
) -> None:
    """Register a federated round's model: its hash (the proofs' model-hash instance), round,
    DP epsilon and metrics hash, all read from the round's manifest (governed).

    Example:

        proofcast admin register-model --from-manifest build/federated/round-100
        --rpc-url http://127.0.0.1:8545 --deployment deployment.json
    """
    from oracle.chain.contracts import register_model_call
    from oracle.ops.admin import apply_governed, load_round_manifest, model_spec

    with one_line_errors():
        spec = model_spec(load_round_manifest(from_manifest), activates_at)
        stack, _ = _admin(rpc_url, oracle, deployment, keystore)
        registered = stack.oracle.functions.models(spec.hash_bytes).call()[0]
        if registered:
            raise ValueError(f"model 0x{spec.hash_bytes.hex()} is already registered")
        console.print(
            f"round {spec.round}: model 0x{spec.hash_bytes.hex()}, metrics hash "
            f"0x{spec.metrics_hash.hex()}, DP epsilon x1000 user {spec.dp_epsilon_milli} / record "
            f"{spec.record_epsilon_milli} at delta 1e-{spec.delta_exponent}"
        )
        fn = register_model_call(stack, spec)
        applied = apply_governed(stack, fn, f"registerModel(round {spec.round})")
    _report(applied)


@admin_app.command("retire-model")
def admin_retire_model(
    model_hash: Annotated[str, typer.Argument(help="0x model hash (see `admin status`).")],
    rpc_url: RpcUrl,
    oracle: OracleOpt = None,
    deployment: DeploymentOpt = None,
    keystore: KeystoreOpt = None,
) -> None:
    """Retire a model for good: its reports are refused from now on (acts at once).

    Example:

        proofcast admin retire-model 0x1234.. --rpc-url http://127.0.0.1:8545
        --deployment deployment.json
    """
    from oracle.chain.contracts import retire_model
    from oracle.ops.admin import parse_bytes32

    with one_line_errors():
        key = parse_bytes32(model_hash, "model hash")
        stack, _ = _admin(rpc_url, oracle, deployment, keystore)
        receipt = retire_model(stack, int.from_bytes(key, "big"))
    out.print(f"[green]done[/]: model 0x{key.hex()} retired (tx {_tx(receipt)})")


@admin_app.command("execute")
def admin_execute(
    change_id: Annotated[str, typer.Argument(help="0x id printed when the change was queued.")],
    rpc_url: RpcUrl,
    oracle: OracleOpt = None,
    deployment: DeploymentOpt = None,
    keystore: KeystoreOpt = None,
) -> None:
    """Execute a queued governed change once its eta has passed.

    Example:

        proofcast admin execute 0xabc.. --rpc-url http://127.0.0.1:8545 --deployment deployment.json
    """
    from oracle.ops.admin import execute_queued, parse_bytes32

    with one_line_errors():
        cid = parse_bytes32(change_id, "change id")
        stack, _ = _admin(rpc_url, oracle, deployment, keystore)
        receipt = execute_queued(stack, cid)
    out.print(f"[green]executed[/] 0x{cid.hex()} (tx {_tx(receipt)})")


@admin_app.command("status")
def admin_status(
    rpc_url: RpcUrl,
    oracle: OracleOpt = None,
    deployment: DeploymentOpt = None,
    feed: Annotated[
        list[str] | None, typer.Option(help="Feed names to show by name (default: deployment's).")
    ] = None,
) -> None:
    """The oracle's admin, governance (delay, whether changes act at once, queued changes),
    attesters, transmitters, models and feeds. Needs no key.

    Example:

        proofcast admin status --rpc-url http://127.0.0.1:8545 --deployment deployment.json
    """
    from oracle.ops.admin import read_status

    with one_line_errors():
        stack, record = _admin(rpc_url, oracle, deployment, None, signing=False)
        names = list(feed or (record.feeds if record else []))
        status = read_status(stack, names)
    mode = "act at once" if status.immediate else f"wait {status.governance_delay} s in the queue"
    out.print(
        f"RiskOracle {status.address}: admin {status.admin}, {status.report_count} reports; "
        f"governed changes {mode} (delay {status.governance_delay} s)"
    )
    out.print(
        f"attesters ({status.threshold} of {len(status.attesters)}, config version "
        f"{status.config_version}): {', '.join(status.attesters) or '-'}"
    )
    who = "anyone (permissionless)" if status.permissionless else ", ".join(status.transmitters)
    out.print(f"transmitters: {who or '-'}")
    models = Table(title="models")
    for col in ("hash", "round", "state"):
        models.add_column(col)
    for key, _registered, retired, rnd in status.models:
        models.add_row(key, str(rnd), "retired" if retired else "active")
    out.print(models)
    feeds = Table(title="feeds")
    for col in ("feed", "max age", "decimals", "enabled", "description"):
        feeds.add_column(col)
    for name, max_age, decimals, enabled, desc in status.feeds:
        feeds.add_row(name, f"{max_age} s", str(decimals), str(enabled), desc)
    out.print(feeds)
    if status.changes:
        changes = Table(title=f"governed changes (chain time {status.now})")
        for col in ("id", "call", "eta", "status"):
            changes.add_column(col)
        for c in status.changes:
            ready = " (ready)" if c.status == "queued" and status.now >= c.eta else ""
            changes.add_row(c.id, c.call, str(c.eta), c.status + ready)
        out.print(changes)


# --------------------------------------------------------------------------------- circuit


@circuit_app.command("compile-round")
def circuit_compile_round(
    round_dir: Annotated[Path, typer.Argument(help="Federated round directory (round-NNN).")],
    feeds: Annotated[
        str, typer.Option(help="Comma-separated bundled series or CSV files, one per proof slot.")
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Circuit directory (existing: compile into it).")
    ] = Path("build/circuit"),
    srs: Annotated[
        Path | None, typer.Option(help="Ceremony SRS (else a testing-only SRS is generated).")
    ] = None,
) -> None:
    """Compile a federated round's model (checked against its manifest's hashes) into a
    circuit: a new circuit at --out (calibrated on --feeds' recent data), or, when --out
    already holds a circuit of the same architecture, the round's weights under
    --out/models/round-NNN (the node's `model = "round-NNN"`; no new verifier).

    Example:

        proofcast circuit compile-round build/federated/round-100 --feeds sp500,aapl
        --out build/circuit
    """
    from oracle.ops.circuit import compile_round

    names = [f.strip() for f in feeds.split(",") if f.strip()]
    with one_line_errors(), console.status("compiling (EZKL)"):
        result = compile_round(round_dir, out_dir, names, srs)
    if result.model_name:
        out.print(
            f"round {result.round} (model {result.model_hash}) compiled into {result.circuit} "
            f'as {result.model_name}: set node.model = "{result.model_name}"'
        )
    else:
        out.print(
            f"circuit for round {result.round} (model {result.model_hash}) at {result.circuit}: "
            f"logrows {result.logrows}, setup {result.setup_seconds:.1f} s"
        )
