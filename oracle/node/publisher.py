"""The on-chain side of the node: read feeds, encode submissions, decode custom errors.

`Publisher` is the small surface the runner needs; `RiskOraclePublisher` implements it for
contracts/src/RiskOracle.sol. Sending is not here: `transactions.py` signs and journals.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3 import Web3

from oracle.chain.contracts import (
    CONTRACTS_SRC,
    LIBRARY_REMAPPINGS,
    ORACLE_CONTRACT,
    SlotReport,
    compile_oracle_contracts,
    decode_custom_error,
    feed_id,
)
from oracle.node.schedule import OnChainValue

ABI_CACHE = CONTRACTS_SRC.parents[1] / "build" / "abi"


class Publisher(Protocol):
    """What the runner needs from an oracle contract."""

    address: str

    def latest(self, feed: str) -> OnChainValue | None:
        """The feed's latest on-chain values, None when it has no round yet."""

    def attester_config(self) -> AttesterConfig:
        """The oracle's current attester set, threshold and config version."""

    def submit_calldata(
        self, report: SlotReport, proof: bytes, instances: list[int], signatures: list[bytes]
    ) -> bytes:
        """ABI-encoded call data of one attested submission."""

    def decode_error(self, data: bytes) -> str:
        """Revert data as `ErrorName(arg, ...)`."""

    def latest_round_id(self, feed: str) -> int:
        """The feed's latest round id (0 before its first round)."""


@dataclass(frozen=True)
class AttesterConfig:
    """Who must sign a report, as the oracle has it now."""

    version: int
    threshold: int
    attesters: tuple[str, ...]


def format_revert(data: bytes) -> str:
    """Revert data as `ErrorName(arg, ...)` (RiskOracle's custom errors), readable otherwise."""
    if not data:
        return "revert without data"
    if data[:4] == keccak(text="Error(string)")[:4]:
        return f"Error({abi_decode(['string'], data[4:])[0]!r})"
    decoded = decode_custom_error(data)
    if decoded is None:
        return f"unknown error 0x{data.hex()}"
    name, args = decoded
    shown = ", ".join("0x" + a.hex() if isinstance(a, bytes) else str(a) for a in args)
    return f"{name}({shown})"


class RiskOraclePublisher:
    """`Publisher` for a deployed RiskOracle."""

    def __init__(self, w3: Web3, address: str, abi: list[dict[str, Any]] | None = None) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.abi = abi if abi is not None else risk_oracle_abi()
        self.contract = w3.eth.contract(address=self.address, abi=self.abi)
        self._layout: tuple[int, int] | None = None

    def _outputs_and_scale(self) -> tuple[int, int]:
        if self._layout is None:
            fns = self.contract.functions
            self._layout = (int(fns.outputsPerFeed().call()), int(fns.outputScale().call()))
        return self._layout

    def is_configured(self, feed: str) -> bool:
        return bool(self.contract.functions.feeds(feed_id(feed)).call()[5])

    def latest(self, feed: str) -> OnChainValue | None:
        # FeedState: latestRound, observedAt, acceptedAt, windowStart, last0, last1, anchor0, 1
        state = self.contract.functions.feedState(feed_id(feed)).call()
        if state[0] == 0:
            return None
        outputs, scale = self._outputs_and_scale()
        answers = tuple(int(v) / (1 << scale) for v in state[4 : 4 + outputs])
        return OnChainValue(answers, int(state[1]), int(state[2]))

    def latest_round_id(self, feed: str) -> int:
        return int(self.contract.functions.latestRoundId(feed_id(feed)).call())

    def attester_config(self) -> AttesterConfig:
        fns = self.contract.functions
        return AttesterConfig(
            version=int(fns.configVersion().call()),
            threshold=int(fns.threshold().call()),
            attesters=tuple(fns.attesters().call()),
        )

    def submit_calldata(
        self, report: SlotReport, proof: bytes, instances: list[int], signatures: list[bytes]
    ) -> bytes:
        data = self.contract.encode_abi(
            "submit", args=[report.as_tuple(), proof, instances, signatures]
        )
        return bytes.fromhex(data.removeprefix("0x"))

    def decode_error(self, data: bytes) -> str:
        return format_revert(data)


def risk_oracle_abi(cache_dir: Path = ABI_CACHE) -> list[dict[str, Any]]:
    """RiskOracle's ABI, compiled from `contracts/src` with solc-js.

    Compiling takes seconds, so the ABI is cached under build/abi/ keyed by the sha256 of the
    sources: a node restart (e.g. after a crash) does not wait for solc-js again.
    """
    digest = hashlib.sha256()
    for path in sorted(CONTRACTS_SRC.rglob("*.sol")):
        digest.update(path.relative_to(CONTRACTS_SRC).as_posix().encode() + path.read_bytes())
    digest.update(json.dumps(LIBRARY_REMAPPINGS).encode())
    cached = cache_dir / f"{ORACLE_CONTRACT}-{digest.hexdigest()[:16]}.abi.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    abi = compile_oracle_contracts()[ORACLE_CONTRACT].abi
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(abi))
    tmp.replace(cached)
    return abi
