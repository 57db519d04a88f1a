"""Administer a deployed RiskOracle: feeds, attesters, transmitters, models, and its governance.

Every trust-relevant setter is `governed` on chain: while the oracle has accepted no report (or
its governanceDelay is 0) a change acts at once; after that it must be queued and sent again
once its eta has passed. `apply_governed` does whichever applies, reusing
`oracle.chain.contracts` (`queue_change`, `execute_change`, `change_status`), so an operator
runs the same command before and after the first report and is told which happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import Web3

from circuits.layout import InstanceLayout
from federated.manifest import ManifestError, RoundManifest, metrics_hash, read_manifest
from oracle.chain.contracts import (
    CHANGE_STATUS,
    ORACLE_CONTRACT,
    ModelSpec,
    OracleStack,
    PendingChange,
    block_timestamp,
    calldata,
    change_status,
    compile_oracle_contracts,
    execute_change,
    queue_change,
    send,
)
from oracle.errors import ChainError


@dataclass(frozen=True)
class Applied:
    """What `apply_governed` did: executed now (`receipt`) or queued (`change`, until eta)."""

    what: str
    executed: bool
    change: PendingChange | None = None
    receipt: dict[str, Any] | None = None
    already_queued: bool = False


def attach(w3: Web3, address: str, output_names: tuple[str, ...] | None = None) -> OracleStack:
    """An OracleStack over the RiskOracle at `address` (check it with `rpc.check_oracle`
    first); its layout is read from the oracle's immutables."""
    oracle = w3.eth.contract(
        address=Web3.to_checksum_address(address),
        abi=compile_oracle_contracts()[ORACLE_CONTRACT].abi,
    )
    fns = oracle.functions
    outputs = int(fns.outputsPerFeed().call())
    layout = InstanceLayout(
        num_feeds=int(fns.feedsPerReport().call()),
        outputs_per_feed=outputs,
        output_scale=int(fns.outputScale().call()),
        output_names=output_names or tuple(f"out{j}" for j in range(outputs)),
    )
    return OracleStack(w3=w3, oracle=oracle, layout=layout)


def is_immediate(stack: OracleStack) -> bool:
    """Governed changes act at once: no delay, or no report accepted yet."""
    fns = stack.oracle.functions
    return int(fns.governanceDelay().call()) == 0 or int(fns.reportCount().call()) == 0


def apply_governed(stack: OracleStack, fn: Any, what: str) -> Applied:
    """Send governed call `fn` now when the oracle allows it (no report yet, no delay, or this
    exact call queued and past its eta); otherwise queue it (or report it already queued)."""
    if is_immediate(stack):
        return Applied(what, True, receipt=send(stack.w3, fn, what))
    change_id = keccak(calldata(stack.oracle, fn))
    eta, status = change_status(stack.oracle, change_id)
    if status == "queued":
        change = PendingChange(change_id, calldata(stack.oracle, fn), eta, fn)
        if block_timestamp(stack.w3) >= eta:
            return Applied(what, True, change, execute_change(stack, change))
        return Applied(what, False, change, already_queued=True)
    return Applied(what, False, queue_change(stack, fn))


def queued_call(stack: OracleStack, change_id: bytes) -> Any:
    """The setter call of queued change `change_id`, from its ChangeQueued event."""
    events = stack.oracle.events.ChangeQueued().get_logs(
        from_block=0, argument_filters={"id": change_id}
    )
    if not events:
        raise ChainError(f"no change 0x{change_id.hex()} was ever queued on {stack.oracle.address}")
    call = bytes(events[-1]["args"]["call"])
    func, args = stack.oracle.decode_function_input(call)
    return stack.oracle.functions[func.fn_name](*args.values())


def execute_queued(stack: OracleStack, change_id: bytes) -> dict[str, Any]:
    """Execute queued change `change_id` (after its eta: the oracle reverts ChangeNotReady
    before, ChangeNotQueued when it was never queued or already ran)."""
    fn = queued_call(stack, change_id)
    eta, _status = change_status(stack.oracle, change_id)
    return execute_change(stack, PendingChange(change_id, calldata(stack.oracle, fn), eta, fn))


def parse_bytes32(text: str, what: str) -> bytes:
    """A 0x-prefixed 32-byte hex value (a change id, a model hash)."""
    raw = text.removeprefix("0x")
    if len(raw) != 64:
        raise ValueError(f"{what} {text!r}: expected 32 bytes of hex (0x + 64 digits)")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not hex") from None


# -- models


def load_round_manifest(round_dir: Path) -> RoundManifest:
    """The manifest of a federated round directory (round-NNN/manifest.json)."""
    path = Path(round_dir) / "manifest.json"
    if not path.is_file():
        raise ManifestError(f"{round_dir}: no manifest.json (a federated round-NNN directory?)")
    return read_manifest(path)


def model_spec(manifest: RoundManifest, activates_at: int = 0) -> ModelSpec:
    """What `registerModel` records for a federated round: the proved model's hash (the
    OracleModel over the round's networks), the round, user- and record-level DP epsilon x 1000
    with their delta's exponent, and the hash of its metrics document
    (`federated.manifest.metrics_hash`)."""
    if not manifest.oracle_model_hash:
        raise ManifestError(
            f"round {manifest.round}: the manifest has no oracle_model_hash (a round without "
            "both the volatility and the risk network cannot be registered)"
        )
    eps, record = manifest.dp.get("epsilon"), manifest.dp.get("record_epsilon")
    delta = manifest.dp.get("delta")
    return ModelSpec(
        int(manifest.oracle_model_hash, 16),
        round=manifest.round,
        dp_epsilon_milli=round(eps * 1000) if eps else 0,
        metrics_hash=metrics_hash(manifest.metrics),
        activates_at=activates_at,
        record_epsilon_milli=round(record * 1000) if record else 0,
        delta_exponent=round(-math.log10(delta)) if (eps or record) and delta else 0,
    )


# -- status


@dataclass(frozen=True)
class ChangeRow:
    id: str
    call: str
    eta: int
    status: str


@dataclass(frozen=True)
class OracleStatus:
    """The oracle's governance state as `proofcast admin status` shows it."""

    address: str
    admin: str
    governance_delay: int
    report_count: int
    immediate: bool
    attesters: list[str]
    threshold: int
    config_version: int
    transmitters: list[str]
    permissionless: bool
    models: list[tuple[str, bool, bool, int]]  # hash, registered, retired, round
    feeds: list[tuple[str, int, int, bool, str]]  # name/id, maxAge, decimals, enabled, desc
    changes: list[ChangeRow]
    now: int


def read_status(stack: OracleStack, feed_names: list[str]) -> OracleStatus:
    """Read the oracle's admin state (views and its events)."""
    oracle, fns = stack.oracle, stack.oracle.functions
    allowed: dict[str, bool] = {}
    for event in oracle.events.TransmitterSet().get_logs(from_block=0):
        allowed[event["args"]["transmitter"]] = bool(event["args"]["allowed"])
    models = []
    for event in oracle.events.ModelRegistered().get_logs(from_block=0):
        key = bytes(event["args"]["modelHash"])
        registered, retired, rnd, *_ = fns.models(key).call()
        models.append(("0x" + key.hex(), bool(registered), bool(retired), int(rnd)))
    names = {keccak(text=n): n for n in feed_names}
    feeds = []
    for event in oracle.events.FeedConfigured().get_logs(from_block=0):
        fid = bytes(event["args"]["feedId"])
        if any(f[0] == names.get(fid, "0x" + fid.hex()) for f in feeds):
            continue
        max_age, _delay, _window, _index, decimals, enabled = fns.feeds(fid).call()
        desc = fns.feedDescription(fid).call()
        feeds.append((names.get(fid, "0x" + fid.hex()), max_age, decimals, enabled, desc))
    changes = []
    for event in oracle.events.ChangeQueued().get_logs(from_block=0):
        cid = bytes(event["args"]["id"])
        eta, status = fns.pendingChange(cid).call()
        try:
            func, args = oracle.decode_function_input(bytes(event["args"]["call"]))
            call = f"{func.fn_name}({', '.join(f'{k}={_short(v)}' for k, v in args.items())})"
        except ValueError:
            call = "0x" + bytes(event["args"]["call"]).hex()[:16] + "…"
        row = ChangeRow("0x" + cid.hex(), call, int(eta), CHANGE_STATUS[status])
        changes = [c for c in changes if c.id != row.id] + [row]
    return OracleStatus(
        address=oracle.address,
        admin=fns.admin().call(),
        governance_delay=int(fns.governanceDelay().call()),
        report_count=int(fns.reportCount().call()),
        immediate=is_immediate(stack),
        attesters=list(fns.attesters().call()),
        threshold=int(fns.threshold().call()),
        config_version=int(fns.configVersion().call()),
        transmitters=sorted(a for a, ok in allowed.items() if ok),
        permissionless=bool(fns.permissionless().call()),
        models=models,
        feeds=feeds,
        changes=changes,
        now=block_timestamp(stack.w3),
    )


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()[:12] + "…"
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"
