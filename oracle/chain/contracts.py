"""Proofcast's on-chain oracle from Python: compile `contracts/src`, deploy, register, submit, read.

The contracts (see contracts/src and the README's "On-chain oracle" section):
`RiskOracle` verifies batch reports through the circuit's EZKL verifier (pinned at deployment),
`RiskFeedAdapter` exposes one feed as a Chainlink `AggregatorV3Interface`, `MarginEngine` is an
example consumer. Reverts are decoded into `OracleRevert` carrying the custom error's name and
arguments, so callers and tests can tell a stale report from a replayed one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from circuits.layout import InstanceLayout
from oracle.chain.client import deploy
from oracle.chain.solidity import CompiledContract, compile_directory
from oracle.chain.toolchain import PROJECT_ROOT
from oracle.errors import ChainError

log = logging.getLogger(__name__)

CONTRACTS_SRC = Path(__file__).resolve().parents[2] / "contracts" / "src"
ORACLE_CONTRACT = "RiskOracle"
ADAPTER_CONTRACT = "RiskFeedAdapter"
MARGIN_CONTRACT = "MarginEngine"


class OracleRevert(ChainError):
    """A contract call reverted; `error` and `args` name the decoded custom error."""

    def __init__(self, what: str, address: str, error: str, args: tuple[Any, ...]) -> None:
        self.what, self.address, self.error, self.args_ = what, address, error, args
        super().__init__(f"{what} reverted at {address}: {error}{args}")


# Libraries from npm (node_modules), remapped as in contracts/foundry.toml.
LIBRARY_REMAPPINGS = ["solady/=node_modules/solady/src/"]


# Reports whose rounds stay readable by id on chain (RiskOracle.historyReports): older rounds are
# in the ReportAccepted events. Gas per report does not depend on it once the ring is full.
NO_BACKTEST = 255  # RiskOracle.NO_BACKTEST: no output is a VaR
# RiskFeedAdapter kinds (its KIND_ constants): the output as published, and a log volatility
# (ln of the daily vol in percent) as the daily and the annualised (x sqrt(252)) vol in percent.
ADAPTER_KINDS = {"raw": 0, "daily_pct": 1, "annual_pct": 2}
HISTORY_REPORTS = 4096


@functools.cache
def compile_oracle_contracts(src: Path = CONTRACTS_SRC) -> dict[str, CompiledContract]:
    """Compile every contract under `contracts/src` with solc-js (cached per process)."""
    return compile_directory(src, LIBRARY_REMAPPINGS, base_path=PROJECT_ROOT)


def _error_table(compiled: dict[str, CompiledContract]) -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {}
    for contract in compiled.values():
        for item in contract.abi:
            if item.get("type") != "error":
                continue
            types = [inp["type"] for inp in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], types)
    return table


def decode_custom_error(
    data: bytes | str, compiled: dict[str, CompiledContract] | None = None
) -> tuple[str, tuple[Any, ...]] | None:
    """(name, args) of the custom error in revert `data`, or None if no known error matches."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
    if len(raw) < 4:
        return None
    entry = _error_table(compiled or compile_oracle_contracts()).get(raw[:4])
    if entry is None:
        return None
    name, types = entry
    values = abi_decode(types, raw[4:])
    return name, tuple(
        Web3.to_checksum_address(v) if t == "address" else v
        for t, v in zip(types, values, strict=True)
    )


def _revert_data(exc: ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) else None


def send(w3: Web3, fn: Any, what: str) -> dict[str, Any]:
    """Send a contract call as a transaction; a revert raises OracleRevert with the error name."""
    address = fn.address
    try:
        tx_hash = fn.transact()
    except ContractLogicError as exc:
        data = _revert_data(exc)
        decoded = decode_custom_error(data) if data else None
        if decoded is None:
            raise OracleRevert(what, address, "UnknownRevert", (data or str(exc),)) from exc
        raise OracleRevert(what, address, decoded[0], decoded[1]) from exc
    except Exception as exc:
        raise ChainError(f"{what} at {address} failed: {exc}") from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1:
        raise ChainError(f"{what} at {address} reverted (tx {tx_hash.hex()})")
    return dict(receipt)


# Views every RiskOracle answers (immutables fixed at deployment): what `require_risk_oracle`
# calls to tell a RiskOracle from an empty address or another contract.
_RISK_ORACLE_VIEWS = ("verifier", "feedsPerReport", "outputsPerFeed", "outputScale")


def require_risk_oracle(w3: Web3, address: str) -> None:
    """Raise a one-line ChainError naming `address` unless a RiskOracle is there: no code, or
    code that does not answer RiskOracle's views. Transport failures (RPC down) propagate, so
    callers can retry them."""
    import requests

    if not Web3.is_address(address):
        raise ChainError(f"{address!r} is not an address")
    checksum = Web3.to_checksum_address(address)
    if len(w3.eth.get_code(checksum)) == 0:
        raise ChainError(f"no contract at {checksum}: not a RiskOracle")
    oracle = w3.eth.contract(address=checksum, abi=compile_oracle_contracts()[ORACLE_CONTRACT].abi)
    for view in _RISK_ORACLE_VIEWS:
        try:
            getattr(oracle.functions, view)().call()
        except (requests.exceptions.RequestException, ConnectionError, TimeoutError):
            raise
        except Exception as exc:
            raise ChainError(
                f"contract at {checksum} is not a RiskOracle: {view}() failed "
                f"({type(exc).__name__})"
            ) from exc


def feed_id(name: str) -> bytes:
    """The bytes32 id of feed `name` (keccak256 of the name)."""
    return keccak(text=name)


EMPTY_SLOT = b"\x00" * 32  # feed id of a report slot whose feed was left out of the round
INT32 = (-(2**31), 2**31 - 1)
UINT32_MAX = 2**32 - 1


def to_fixed_point(units: int, output_scale: int, decimals: int, rounding: str) -> int:
    """Feed units (`decimals` digits) -> proved fixed point (`output_scale` fractional bits),
    rounded "up" (ceil) or "down" (floor): how unit guardrails become fixed-point ones."""
    num, den = units * (1 << output_scale), 10**decimals
    return -((-num) // den) if rounding == "up" else num // den


@dataclass(frozen=True)
class OutputSpec:
    """One model output of a feed as consumers see it (its own Chainlink adapter) and its
    guardrails in feed units: inclusive bounds, largest change per report, largest change from
    the value in force when the feed's cumulative-change window opened."""

    name: str
    min_answer: int
    max_answer: int
    max_delta: int
    max_window_delta: int = 0
    description: str = ""

    def limits(self, output_scale: int, decimals: int) -> tuple[int, int, int, int]:
        """The `RiskOracle.Limits` tuple: bounds rounded inward, deltas down, clamped to what
        the oracle stores (int32 / uint32 fixed point; wider bounds are equivalent)."""
        lo = max(to_fixed_point(self.min_answer, output_scale, decimals, "up"), INT32[0])
        hi = min(to_fixed_point(self.max_answer, output_scale, decimals, "down"), INT32[1])
        deltas = [
            min(max(to_fixed_point(d, output_scale, decimals, "down"), 0), UINT32_MAX)
            for d in (self.max_delta, self.max_window_delta)
        ]
        return (lo, hi, deltas[0], deltas[1])


@dataclass(frozen=True)
class FeedSpec:
    """One feed (a report slot, e.g. an asset): its outputs, freshness, pacing and decoding."""

    name: str
    outputs: tuple[OutputSpec, ...]
    decimals: int = 8
    max_age: int = 3600
    min_delay: int = 0
    window: int = 0  # seconds of the cumulative-change window; 0: no window limit
    enabled: bool = True
    description: str = ""

    @property
    def id(self) -> bytes:
        return feed_id(self.name)

    def config(self) -> tuple[Any, ...]:
        """The `RiskOracle.FeedConfig` tuple (the index is assigned by the oracle)."""
        return (self.max_age, self.min_delay, self.window, 0, self.decimals, self.enabled)

    def limits(self, output_scale: int) -> list[tuple[int, int, int, int]]:
        return [o.limits(output_scale, self.decimals) for o in self.outputs]

    def adapter_key(self, output: int | str, kind: str = "raw") -> str:
        """The key of one output's adapter of `kind` (ADAPTER_KINDS) in `OracleStack.adapters`:
        "sp500/var99" for the output as published, "sp500/vol:daily_pct" and
        "sp500/vol:annual_pct" for a log volatility in percent."""
        name = self.outputs[output].name if isinstance(output, int) else output
        return f"{self.name}/{name}" if kind == "raw" else f"{self.name}/{name}:{kind}"

    def adapter_description(self, output: int, kind: str, is_var: bool) -> str:
        """What the adapter of `output` and `kind` says it answers (its `description()`)."""
        if kind == "daily_pct":
            return f"{self.name} daily volatility (%)"
        if kind == "annual_pct":
            return f"{self.name} annualised volatility (%)"
        if self.outputs[output].description:
            return self.outputs[output].description
        if is_var:
            return f"{self.name} 1-day 99% VaR (%)"
        return f"{self.name} daily log volatility (ln %)"


@dataclass(frozen=True)
class ModelSpec:
    """Registry metadata of one set of federated weights."""

    model_hash: int
    round: int = 0
    dp_epsilon_milli: int = 0  # user-level (one provider's data), x 1000; 0: none
    metrics_hash: bytes = b"\x00" * 32
    activates_at: int = 0
    record_epsilon_milli: int = 0  # record-level (one row), x 1000; 0: none
    delta_exponent: int = 0  # both hold at delta = 10^-delta_exponent; 0: no DP

    @property
    def hash_bytes(self) -> bytes:
        return self.model_hash.to_bytes(32, "big")


@dataclass(frozen=True)
class MarginParams:
    """MarginEngine parameters (volatility in feed units, margins in basis points) and the
    adapter it reads (`FeedSpec.adapter_key`; default: the first feed's first output)."""

    max_staleness: int = 3600
    fallback_volatility: int = 150_000_000  # 1.5 at 8 decimals: conservative
    base_margin_bps: int = 500
    vol_multiplier_bps: int = 1000
    max_margin_bps: int = 5000
    adapter: str | None = None


@dataclass(frozen=True)
class RoundData:
    """What `latestRoundData`/`getRoundData` return."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int


@dataclass(frozen=True)
class SlotReport:
    """What attesters sign besides the input commitment: `RiskOracle.Report`.

    `valid_until` is when the signatures expire (block time); per slot, `previous_observed_at`
    is the close time of the bar before the last and `realized_return` the log return between
    the two closes in percent, fixed point at the circuit's output scale (the VaR's unit): the
    oracle scores the feed's last VaR with it when the previous close is its last observation.
    """

    config_version: int
    feed_ids: tuple[bytes, ...]  # per slot; EMPTY_SLOT for a feed left out
    observed_at: tuple[int, ...]  # per slot; 0 for an empty slot
    valid_until: int = 0
    previous_observed_at: tuple[int, ...] = ()  # per slot (empty: all 0)
    realized_return: tuple[int, ...] = ()  # per slot (empty: all 0)

    def _per_slot(self, values: tuple[int, ...]) -> list[int]:
        return list(values) if values else [0] * len(self.feed_ids)

    def as_tuple(self) -> tuple[int, int, list[bytes], list[int], list[int], list[int]]:
        return (
            self.config_version,
            self.valid_until,
            list(self.feed_ids),
            list(self.observed_at),
            self._per_slot(self.previous_observed_at),
            self._per_slot(self.realized_return),
        )

    def to_json(self) -> dict[str, Any]:
        """For the node's journal (the exact report the signatures are over)."""
        version, valid_until, ids, observed, previous, realized = self.as_tuple()
        return {
            "config_version": version,
            "valid_until": valid_until,
            "feed_ids": [i.hex() for i in ids],
            "observed_at": observed,
            "previous_observed_at": previous,
            "realized_return": realized,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlotReport:
        return cls(
            int(data["config_version"]),
            tuple(bytes.fromhex(i) for i in data["feed_ids"]),
            tuple(int(t) for t in data["observed_at"]),
            int(data["valid_until"]),
            tuple(int(t) for t in data["previous_observed_at"]),
            tuple(int(r) for r in data["realized_return"]),
        )


@dataclass
class OracleStack:
    """A deployed oracle with its feed adapters and (optionally) the example consumer."""

    w3: Web3
    oracle: Contract
    layout: InstanceLayout
    adapters: dict[str, Contract] = field(default_factory=dict)
    margin_engine: Contract | None = None
    gas: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def deploy_oracle(
    w3: Web3,
    verifier: str,
    layout: InstanceLayout,
    feeds: list[FeedSpec],
    attesters: list[str] | None = None,
    threshold: int = 0,
    margin: MarginParams | None = None,
    permissionless: bool = False,
    history_reports: int = HISTORY_REPORTS,
    backtest: bool = True,
    governance_delay: int = 0,
) -> OracleStack:
    """Deploy RiskOracle (pinned to the circuit's `verifier`), configure `feeds` with one raw
    adapter per feed output (registered in the oracle's adapter registry, `adapterOf`) plus, for
    each log-volatility output (every output but the VaR), a daily and an annualised volatility
    adapter in percent (keys `FeedSpec.adapter_key(j, kind)`), set the
    attester set and threshold (when given) and, with `margin`, a MarginEngine reading one
    adapter.

    `governance_delay` (seconds, fixed for the oracle's life) is how long a trust-relevant admin
    change waits in the queue once the oracle has accepted a report (`queue_change`); until
    then, and with 0, changes act at once, so this configuration is immediate.

    The sending account becomes admin and an allow-listed transmitter. `history_reports` is the
    length of the oracle's history ring (rounds of older reports revert with RoundNotRetained).
    With `backtest` the VaR output is scored against the signed realised returns
    (`RiskOracle.backtest`); without, no output is (the gas benchmark's control).
    """
    if layout.input_hash_index != 0 or layout.model_hash_index != 1:
        raise ChainError(
            "RiskOracle expects [input commitment, model hash, outputs...]; layout has input "
            f"hash at {layout.input_hash_index} and model hash at {layout.model_hash_index}"
        )
    for spec in feeds:
        if len(spec.outputs) != layout.outputs_per_feed:
            raise ChainError(
                f"feed {spec.name}: {len(spec.outputs)} outputs configured, the circuit proves "
                f"{layout.outputs_per_feed} per feed"
            )
    compiled = compile_oracle_contracts()
    admin = w3.eth.default_account
    deployed = deploy(
        w3,
        compiled[ORACLE_CONTRACT],
        verifier,
        layout.num_feeds,
        layout.outputs_per_feed,
        layout.output_scale,
        history_reports,
        var_output(layout.outputs_per_feed) if backtest else NO_BACKTEST,
        admin,
        governance_delay,
    )
    stack = OracleStack(w3=w3, oracle=deployed.contract, layout=layout)
    stack.gas["deploy RiskOracle"] = deployed.gas_used
    stack.sizes[ORACLE_CONTRACT] = deployed.runtime_size
    oracle = stack.oracle
    stack.gas["setTransmitter"] = set_transmitter(stack, admin, True)["gasUsed"]
    if permissionless:
        send(w3, oracle.functions.setPermissionless(True), "setPermissionless")
    if attesters:
        stack.gas["setAttesters"] = set_attesters(stack, attesters, threshold)["gasUsed"]
    for spec in feeds:
        stack.gas["configureFeed"] = configure_feed(stack, spec)["gasUsed"]
        var_index = var_output(layout.outputs_per_feed)
        for j in range(len(spec.outputs)):
            kinds = ("raw",) if j == var_index else tuple(ADAPTER_KINDS)
            for kind in kinds:
                adapter = deploy(
                    w3,
                    compiled[ADAPTER_CONTRACT],
                    oracle.address,
                    spec.id,
                    j,
                    ADAPTER_KINDS[kind],
                    spec.adapter_description(j, kind, j == var_index),
                )
                stack.adapters[spec.adapter_key(j, kind)] = adapter.contract
                stack.gas["deploy RiskFeedAdapter"] = adapter.gas_used
                stack.sizes[ADAPTER_CONTRACT] = adapter.runtime_size
            fn = set_adapter_call(stack, spec.id, j, stack.adapters[spec.adapter_key(j)].address)
            stack.gas["setAdapter"] = send(w3, fn, f"setAdapter({spec.adapter_key(j)})")["gasUsed"]
    if margin is not None and feeds:
        source = margin.adapter or feeds[0].adapter_key(0)
        if source not in stack.adapters:
            raise ChainError(f"MarginEngine reads {source!r}: no such adapter")
        engine = deploy(
            w3,
            compiled[MARGIN_CONTRACT],
            stack.adapters[source].address,
            margin.max_staleness,
            margin.fallback_volatility,
            margin.base_margin_bps,
            margin.vol_multiplier_bps,
            margin.max_margin_bps,
            stack.adapters[source].address,  # its feed's VaR backtest (the Basel plus factor)
        )
        stack.margin_engine = engine.contract
        stack.gas["deploy MarginEngine"] = engine.gas_used
        stack.sizes[MARGIN_CONTRACT] = engine.runtime_size
    return stack


# -- governance: the setters below are `governed` on chain. While the oracle's changes are
# immediate (governanceDelay 0, or no report accepted yet) sending them acts at once; after
# that a change must first be queued (`queue_change`) and sent again (`execute_change`, the
# same calldata) once its eta has passed, else the oracle reverts ChangeNotQueued or
# ChangeNotReady. `retire_model` always acts at once.

CHANGE_STATUS = ("none", "queued", "executed", "cancelled")  # RiskOracle.pendingChange status


@dataclass(frozen=True)
class PendingChange:
    """A governed change queued on the oracle: `fn` is the setter call it will run."""

    id: bytes  # keccak256(call)
    call: bytes  # the setter's calldata
    eta: int  # earliest block time it can be executed
    fn: Any  # the web3 ContractFunction (send it again to execute)


def calldata(oracle: Contract, fn: Any) -> bytes:
    """The calldata of contract call `fn` (what `queue` takes and the setter is sent with)."""
    return bytes.fromhex(oracle.encode_abi(fn.abi_element_identifier, args=fn.args)[2:])


def _what(fn: Any) -> str:
    return f"{fn.fn_name}{tuple(fn.args)}"[:120]


def queue_change(stack: OracleStack, fn: Any) -> PendingChange:
    """Queue governed call `fn` (e.g. `set_attesters_call(...)`); returns its id and eta."""
    call = calldata(stack.oracle, fn)
    receipt = send(stack.w3, stack.oracle.functions.queue(call), f"queue({_what(fn)})")
    [event] = stack.oracle.events.ChangeQueued().process_receipt(receipt)
    return PendingChange(bytes(event["args"]["id"]), call, int(event["args"]["eta"]), fn)


def execute_change(stack: OracleStack, change: PendingChange) -> dict[str, Any]:
    """Run a queued change (after its eta): the admin sends the same call again."""
    return send(stack.w3, change.fn, _what(change.fn))


def cancel_change(stack: OracleStack, change_id: bytes) -> dict[str, Any]:
    """Drop queued change `change_id`."""
    return send(stack.w3, stack.oracle.functions.cancel(change_id), f"cancel(0x{change_id.hex()})")


def change_status(oracle: Contract, change_id: bytes) -> tuple[int, str]:
    """(eta, status) of a change: status in CHANGE_STATUS."""
    eta, status = oracle.functions.pendingChange(change_id).call()
    return int(eta), CHANGE_STATUS[status]


def configure_feed_call(stack: OracleStack, spec: FeedSpec) -> Any:
    """`configureFeed` of `spec` (governed)."""
    return stack.oracle.functions.configureFeed(
        spec.id,
        spec.config(),
        spec.limits(stack.layout.output_scale),
        spec.description or spec.name,
    )


def set_attesters_call(stack: OracleStack, attesters: list[str], threshold: int) -> Any:
    """`setAttesters` (governed; bumps the oracle's config version)."""
    addresses = [Web3.to_checksum_address(a) for a in attesters]
    return stack.oracle.functions.setAttesters(addresses, threshold)


def register_model_call(stack: OracleStack, model: ModelSpec) -> Any:
    """`registerModel` of `model` (governed)."""
    return stack.oracle.functions.registerModel(
        model.hash_bytes,
        model.round,
        model.dp_epsilon_milli,
        model.record_epsilon_milli,
        model.delta_exponent,
        model.metrics_hash,
        model.activates_at,
    )


def set_transmitter_call(stack: OracleStack, transmitter: str, allowed: bool) -> Any:
    """`setTransmitter` (governed)."""
    return stack.oracle.functions.setTransmitter(Web3.to_checksum_address(transmitter), allowed)


def set_adapter_call(stack: OracleStack, feed: bytes, output: int, adapter: str) -> Any:
    """`setAdapter`: register `adapter` as output `output` of `feed` (governed)."""
    return stack.oracle.functions.setAdapter(feed, output, Web3.to_checksum_address(adapter))


def configure_feed(stack: OracleStack, spec: FeedSpec) -> dict[str, Any]:
    """Create or update feed `spec` on the oracle (at once, or a queued change past its eta)."""
    return send(stack.w3, configure_feed_call(stack, spec), f"configureFeed({spec.name})")


def set_attesters(stack: OracleStack, attesters: list[str], threshold: int) -> dict[str, Any]:
    """Replace the attester set (at once, or a queued change past its eta)."""
    fn = set_attesters_call(stack, attesters, threshold)
    return send(stack.w3, fn, f"setAttesters({len(attesters)}, threshold {threshold})")


def set_transmitter(stack: OracleStack, transmitter: str, allowed: bool) -> dict[str, Any]:
    """Allow or disallow a transmitter (at once, or a queued change past its eta)."""
    fn = set_transmitter_call(stack, transmitter, allowed)
    return send(stack.w3, fn, f"setTransmitter({transmitter}, {allowed})")


def register_model(stack: OracleStack, model: ModelSpec) -> dict[str, Any]:
    """Register `model` (its hash is the proofs' model-hash instance; at once, or a queued
    change past its eta)."""
    fn = register_model_call(stack, model)
    return send(stack.w3, fn, f"registerModel(0x{model.hash_bytes.hex()})")


def retire_model(stack: OracleStack, model_hash: int) -> dict[str, Any]:
    """Retire a registered model."""
    key = model_hash.to_bytes(32, "big")
    return send(stack.w3, stack.oracle.functions.retireModel(key), f"retireModel(0x{key.hex()})")


def submit_report(
    stack: OracleStack,
    report: SlotReport,
    proof: bytes,
    instances: list[int],
    signatures: list[bytes],
) -> dict[str, Any]:
    """Submit an attested report: slot k of the proof publishes feed `report.feed_ids[k]`."""
    fn = stack.oracle.functions.submit(report.as_tuple(), proof, instances, signatures)
    return send(stack.w3, fn, f"submit({len(signatures)} signatures)")


def report_digest(stack: OracleStack, report: SlotReport, input_commitment: int) -> bytes:
    """The EIP-712 digest the oracle expects attesters to have signed (its own view)."""
    return bytes(stack.oracle.functions.reportDigest(report.as_tuple(), input_commitment).call())


def config_version_reader(rpc_url: str, oracle: str, timeout: float = 5.0) -> Callable[[], int]:
    """A function that reads `oracle`'s current `configVersion` (each call one eth_call, at most
    `timeout` seconds): attesters sign only for the configuration the chain has now."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    abi = [
        {
            "name": "configVersion",
            "type": "function",
            "stateMutability": "view",
            "inputs": [],
            "outputs": [{"name": "", "type": "uint32"}],
        }
    ]
    contract = w3.eth.contract(address=Web3.to_checksum_address(oracle), abi=abi)
    return lambda: int(contract.functions.configVersion().call())


def attester_set_reader(
    rpc_url: str, oracle: str, timeout: float = 5.0
) -> Callable[[], tuple[tuple[str, ...], int]]:
    """A function that reads `oracle`'s current attester set and threshold (two eth_calls):
    attesters count only observations by the chain's attesters."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    abi = [
        {
            "name": "attesters",
            "type": "function",
            "stateMutability": "view",
            "inputs": [],
            "outputs": [{"name": "", "type": "address[]"}],
        },
        {
            "name": "threshold",
            "type": "function",
            "stateMutability": "view",
            "inputs": [],
            "outputs": [{"name": "", "type": "uint8"}],
        },
    ]
    contract = w3.eth.contract(address=Web3.to_checksum_address(oracle), abi=abi)
    fns = contract.functions
    return lambda: (tuple(fns.attesters().call()), int(fns.threshold().call()))


def var_output(outputs_per_feed: int) -> int:
    """The backtested output: Proofcast's models publish [log vol %, 99 % VaR %] per feed, so
    the VaR is output 1 of 2; a one-output circuit has none (`NO_BACKTEST`)."""
    return 1 if outputs_per_feed == 2 else NO_BACKTEST


ZONES = ("green", "yellow", "red")


@dataclass(frozen=True)
class Backtest:
    """`RiskOracle.backtest(feedId)`: the last 250 scored days and the lifetime totals."""

    scored_days: int
    breaches: int
    zone: str
    lifetime_scored_days: int
    lifetime_breaches: int
    gaps: int


def read_backtest(oracle: Contract, feed: bytes) -> Backtest:
    """The VaR backtest of `feed` as the oracle keeps it."""
    days, breaches, zone, lifetime_days, lifetime_breaches, gaps = oracle.functions.backtest(
        feed
    ).call()
    return Backtest(days, breaches, ZONES[zone], lifetime_days, lifetime_breaches, gaps)


@dataclass(frozen=True)
class HistoryRecord:
    """One published round as the report's history blob holds it (fixed-point answers)."""

    slot: int
    feed_index: int  # RiskOracle's feed number (`feeds(id).index`, FeedConfigured events)
    observed_at: int
    answers: tuple[int, ...]  # proved fixed point, one per output


def decode_history(history: bytes, outputs_per_feed: int) -> list[HistoryRecord]:
    """Rounds of a report from its history blob (`ReportAccepted.history`, `reportOf`): the
    input commitment (32 bytes), then 16 bytes per slot (empty slots are all zero)."""
    if len(history) < 32 or (len(history) - 32) % 16:
        raise ChainError(f"history blob of {len(history)} bytes is not 32 + 16 k")
    records = []
    for slot in range((len(history) - 32) // 16):
        word = int.from_bytes(history[32 + 16 * slot : 48 + 16 * slot], "big")
        if word == 0:
            continue
        answers = tuple(
            ((word >> (48 + 32 * j)) & 0xFFFFFFFF) - ((word >> (48 + 32 * j + 31)) & 1) * 2**32
            for j in range(outputs_per_feed)
        )
        records.append(HistoryRecord(slot, word & 0xFFFF, (word >> 16) & 0xFFFFFFFF, answers))
    return records


def _adapter_round(adapter: Contract, what: str, *args: int) -> RoundData:
    try:
        return RoundData(*getattr(adapter.functions, what)(*args).call())
    except ContractLogicError as exc:
        decoded = decode_custom_error(_revert_data(exc) or "")
        name, found = decoded or ("UnknownRevert", (str(exc),))
        raise OracleRevert(what, adapter.address, name, found) from exc


def latest_round_data(adapter: Contract) -> RoundData:
    """`latestRoundData()` of a feed adapter (raises OracleRevert before the first round)."""
    return _adapter_round(adapter, "latestRoundData")


def get_round_data(adapter: Contract, round_id: int) -> RoundData:
    """`getRoundData(round_id)` of a feed adapter: the feed's round 1, 2, 3, ... (raises
    OracleRevert: NoDataPresent for an id never issued, RoundNotRetained once it left the
    oracle's history)."""
    return _adapter_round(adapter, "getRoundData", round_id)


def block_timestamp(w3: Web3) -> int:
    """Timestamp of the latest block."""
    return int(w3.eth.get_block("latest")["timestamp"])


def to_feed_units(fixed_point: int, output_scale: int, decimals: int) -> int:
    """What the oracle stores for a proved output: fixed point -> `decimals` digits, truncated
    toward zero (Solidity's signed division)."""
    num = fixed_point * 10**decimals
    quotient = abs(num) // (1 << output_scale)
    return quotient if num >= 0 else -quotient
