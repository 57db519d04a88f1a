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


@functools.cache
def compile_oracle_contracts(src: Path = CONTRACTS_SRC) -> dict[str, CompiledContract]:
    """Compile every contract under `contracts/src` with solc-js (cached per process)."""
    return compile_directory(src)


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


def feed_id(name: str) -> bytes:
    """The bytes32 id of feed `name` (keccak256 of the name)."""
    return keccak(text=name)


@dataclass(frozen=True)
class FeedSpec:
    """One feed: which output it publishes, how it is decoded and its guardrails (feed units)."""

    name: str
    min_answer: int
    max_answer: int
    max_delta: int
    description: str = ""
    decimals: int = 8
    output_index: int = 0
    min_delay: int = 0
    max_age: int = 3600
    enabled: bool = True

    @property
    def id(self) -> bytes:
        return feed_id(self.name)

    def config(self) -> tuple[Any, ...]:
        """The `RiskOracle.FeedConfig` tuple."""
        return (
            self.min_answer,
            self.max_answer,
            self.max_delta,
            self.min_delay,
            self.max_age,
            self.output_index,
            self.decimals,
            self.enabled,
        )


@dataclass(frozen=True)
class ModelSpec:
    """Registry metadata of one set of federated weights."""

    model_hash: int
    round: int = 0
    dp_epsilon_milli: int = 0
    metrics_hash: bytes = b"\x00" * 32
    activates_at: int = 0

    @property
    def hash_bytes(self) -> bytes:
        return self.model_hash.to_bytes(32, "big")


@dataclass(frozen=True)
class MarginParams:
    """MarginEngine parameters (volatility in feed units, margins in basis points)."""

    max_staleness: int = 3600
    fallback_volatility: int = 150_000_000  # 1.5 at 8 decimals: conservative
    base_margin_bps: int = 500
    vol_multiplier_bps: int = 1000
    max_margin_bps: int = 5000


@dataclass(frozen=True)
class RoundData:
    """What `latestRoundData`/`getRoundData` return."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int


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
    margin: MarginParams | None = None,
    permissionless: bool = False,
) -> OracleStack:
    """Deploy RiskOracle (pinned to the circuit's `verifier`), configure `feeds`, deploy one adapter
    per feed and, with `margin`, a MarginEngine reading the first feed.

    The sending account becomes admin and an allow-listed transmitter.
    """
    if layout.input_hash_index != 0 or layout.model_hash_index != 1:
        raise ChainError(
            "RiskOracle expects [input commitment, model hash, outputs...]; layout has input "
            f"hash at {layout.input_hash_index} and model hash at {layout.model_hash_index}"
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
        admin,
    )
    stack = OracleStack(w3=w3, oracle=deployed.contract, layout=layout)
    stack.gas["deploy RiskOracle"] = deployed.gas_used
    stack.sizes[ORACLE_CONTRACT] = deployed.runtime_size
    oracle = stack.oracle
    stack.gas["setTransmitter"] = send(
        w3, oracle.functions.setTransmitter(admin, True), "setTransmitter"
    )["gasUsed"]
    if permissionless:
        send(w3, oracle.functions.setPermissionless(True), "setPermissionless")
    for spec in feeds:
        stack.gas["configureFeed"] = configure_feed(stack, spec)["gasUsed"]
        adapter = deploy(w3, compiled[ADAPTER_CONTRACT], oracle.address, spec.id)
        stack.adapters[spec.name] = adapter.contract
        stack.gas["deploy RiskFeedAdapter"] = adapter.gas_used
        stack.sizes[ADAPTER_CONTRACT] = adapter.runtime_size
    if margin is not None and feeds:
        engine = deploy(
            w3,
            compiled[MARGIN_CONTRACT],
            stack.adapters[feeds[0].name].address,
            margin.max_staleness,
            margin.fallback_volatility,
            margin.base_margin_bps,
            margin.vol_multiplier_bps,
            margin.max_margin_bps,
        )
        stack.margin_engine = engine.contract
        stack.gas["deploy MarginEngine"] = engine.gas_used
        stack.sizes[MARGIN_CONTRACT] = engine.runtime_size
    return stack


def configure_feed(stack: OracleStack, spec: FeedSpec) -> dict[str, Any]:
    """Create or update feed `spec` on the oracle."""
    fn = stack.oracle.functions.configureFeed(spec.id, spec.config(), spec.description or spec.name)
    return send(stack.w3, fn, f"configureFeed({spec.name})")


def register_model(stack: OracleStack, model: ModelSpec) -> dict[str, Any]:
    """Register `model` (its hash is the proofs' model-hash instance)."""
    fn = stack.oracle.functions.registerModel(
        model.hash_bytes,
        model.round,
        model.dp_epsilon_milli,
        model.metrics_hash,
        model.activates_at,
    )
    return send(stack.w3, fn, f"registerModel(0x{model.hash_bytes.hex()})")


def retire_model(stack: OracleStack, model_hash: int) -> dict[str, Any]:
    """Retire a registered model."""
    key = model_hash.to_bytes(32, "big")
    return send(stack.w3, stack.oracle.functions.retireModel(key), f"retireModel(0x{key.hex()})")


def submit_report(
    stack: OracleStack,
    proof: bytes,
    instances: list[int],
    feed_names: list[str],
    observed_at: int,
) -> dict[str, Any]:
    """Submit a batch report: slot k of the proof publishes feed `feed_names[k]`."""
    fn = stack.oracle.functions.submit(
        proof, instances, [feed_id(n) for n in feed_names], observed_at
    )
    return send(stack.w3, fn, f"submit({', '.join(feed_names)})")


def latest_round_data(adapter: Contract) -> RoundData:
    """`latestRoundData()` of a feed adapter (raises OracleRevert before the first round)."""
    try:
        return RoundData(*adapter.functions.latestRoundData().call())
    except ContractLogicError as exc:
        decoded = decode_custom_error(_revert_data(exc) or "")
        name, args = decoded or ("UnknownRevert", (str(exc),))
        raise OracleRevert("latestRoundData", adapter.address, name, args) from exc


def block_timestamp(w3: Web3) -> int:
    """Timestamp of the latest block."""
    return int(w3.eth.get_block("latest")["timestamp"])


def to_feed_units(fixed_point: int, output_scale: int, decimals: int) -> int:
    """What the oracle stores for a proved output: fixed point -> `decimals` digits, truncated
    toward zero (Solidity's signed division)."""
    num = fixed_point * 10**decimals
    quotient = abs(num) // (1 << output_scale)
    return quotient if num >= 0 else -quotient
