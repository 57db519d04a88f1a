"""The on-chain side of the node: read feeds, encode submissions, decode custom errors.

`Publisher` is the small surface the runner needs; `RiskOraclePublisher` implements it for
contracts/src/RiskOracle.sol. Sending is not here: `transactions.py` signs and journals.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Protocol

from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3 import Web3

from oracle.chain.contracts import (
    CONTRACTS_SRC,
    ORACLE_CONTRACT,
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
        """The feed's latest on-chain value, None when it has no round yet."""

    def output_index(self, feed: str) -> int:
        """Which model output the contract publishes for `feed`."""

    def submit_calldata(
        self, proof: bytes, instances: list[int], feeds: list[str], observed_at: int
    ) -> bytes:
        """ABI-encoded call data of one batch submission."""

    def decode_error(self, data: bytes) -> str:
        """Revert data as `ErrorName(arg, ...)`."""

    def rounds_for(self, feed: str) -> int:
        """Number of rounds the feed has on chain."""


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
        self._configs: dict[str, tuple[int, int, bool]] = {}

    def _config(self, feed: str) -> tuple[int, int, bool]:
        """(output index, decimals, enabled) of `feed`, read once."""
        if feed not in self._configs:
            cfg = self.contract.functions.feeds(feed_id(feed)).call()
            # (minAnswer, maxAnswer, maxDelta, minDelay, maxAge, outputIndex, decimals, enabled)
            self._configs[feed] = (int(cfg[5]), int(cfg[6]), bool(cfg[7]))
        return self._configs[feed]

    def is_configured(self, feed: str) -> bool:
        return self._config(feed)[2]

    def output_index(self, feed: str) -> int:
        return self._config(feed)[0]

    def latest(self, feed: str) -> OnChainValue | None:
        round_id, (answer, observed_at, accepted_at, _report) = self.contract.functions.latestRound(
            feed_id(feed)
        ).call()
        if round_id == 0:
            return None
        decimals = self._config(feed)[1]
        return OnChainValue(answer / 10**decimals, int(observed_at), int(accepted_at))

    def rounds_for(self, feed: str) -> int:
        return int(self.contract.functions.latestRoundId(feed_id(feed)).call())

    def submit_calldata(
        self, proof: bytes, instances: list[int], feeds: list[str], observed_at: int
    ) -> bytes:
        data = self.contract.encode_abi(
            "submit", args=[proof, instances, [feed_id(f) for f in feeds], observed_at]
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
    cached = cache_dir / f"{ORACLE_CONTRACT}-{digest.hexdigest()[:16]}.abi.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    abi = compile_oracle_contracts()[ORACLE_CONTRACT].abi
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(abi))
    tmp.replace(cached)
    return abi
