"""Signed transactions with explicit nonces, journaled before they are broadcast.

The node signs locally (eth_account) instead of letting the RPC assign a nonce, so the exact
raw transaction and its hash are in the journal before any byte leaves the machine. After a
crash the same raw transaction is re-broadcast (same nonce, same hash) or found mined: there is
never a second transaction for a round and never a nonce gap.

Fees are EIP-1559: `maxFeePerGas = 2 x next base fee + tip`, capped by the operator's maximum.
A submission not mined within a few blocks, or refused as underpriced, is replaced at the same
nonce with both fee fields raised by at least the usual minimum bump (`bump_fees`), never above
the cap; the replacement is journaled before it is broadcast, and whichever of the
transactions at that nonce is mined is the round's (only one can be).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)

from oracle.node.keys import SigningKey


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fee fields, in wei."""

    max_fee: int
    tip: int

    def to_json(self) -> list[int]:
        return [self.max_fee, self.tip]

    @classmethod
    def from_json(cls, data: list[int] | None) -> Fees | None:
        return None if not data else cls(int(data[0]), int(data[1]))


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction ready to broadcast."""

    nonce: int
    tx_hash: str
    raw: str  # 0x-prefixed RLP
    fees: Fees


class Underpriced(Exception):
    """The RPC refused the transaction for its fees (below the base fee, or a replacement
    without the minimum bump)."""


_UNDERPRICED = (
    "max fee per gas less than block base fee",
    "underpriced",
    "fee too low",
    "feecap too low",
    "fee cap less than block base fee",
)


def next_base_fee(w3: Web3) -> int:
    """The base fee of the next block (the pending block's)."""
    block = w3.eth.get_block("pending")
    return int(block.get("baseFeePerGas") or 0)


def initial_fees(w3: Web3, tip: int, cap: int) -> Fees:
    """2 x next base fee + tip, capped at `cap`."""
    return Fees(min(2 * next_base_fee(w3) + tip, cap), min(tip, cap))


def bump_fees(w3: Web3, old: Fees, percent: float, cap: int) -> Fees | None:
    """Replacement fees: both fields up by at least `percent` (nodes require about 10 %) and
    at least enough for the next base fee; None when the cap leaves no room for a valid bump."""
    factor = 1.0 + percent / 100.0
    tip = max(int(old.tip * factor) + 1, old.tip + 1)
    max_fee = max(int(old.max_fee * factor) + 1, 2 * next_base_fee(w3) + tip)
    max_fee = min(max_fee, cap)
    if max_fee < int(old.max_fee * factor) or tip > max_fee:
        return None
    return Fees(max_fee, tip)


class Preflight(Exception):
    """eth_estimateGas reverted: the contract would reject the call; `data` is the revert."""

    def __init__(self, data: bytes) -> None:
        super().__init__(f"would revert: 0x{data.hex()}")
        self.data = data


def revert_data(exc: Exception) -> bytes | None:
    """Revert bytes carried by a web3 call exception, None when it is not a revert."""
    if isinstance(exc, (ContractCustomError, ContractLogicError)):
        data = exc.data
        if isinstance(data, str):
            return bytes.fromhex(data.removeprefix("0x")) if data.startswith("0x") else b""
        if isinstance(data, (bytes, bytearray)):
            return bytes(data)
        return b""
    return None


def estimate_gas(w3: Web3, sender: str, to: str, data: bytes) -> int:
    """Gas for the call; raises Preflight with the revert data when the contract would revert."""
    try:
        return int(w3.eth.estimate_gas({"from": sender, "to": to, "data": HexBytes(data)}))
    except (ContractCustomError, ContractLogicError) as exc:
        raise Preflight(revert_data(exc) or b"") from exc


def sign(
    key: SigningKey, to: str, data: bytes, gas: int, nonce: int, chain_id: int, fees: Fees
) -> SignedTx:
    """Sign an EIP-1559 transaction at `nonce` with `fees`."""
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": nonce,
        "to": to,
        "data": HexBytes(data),
        "gas": gas,
        "maxPriorityFeePerGas": fees.tip,
        "maxFeePerGas": fees.max_fee,
        "value": 0,
        "type": 2,
    }
    signed = Account.sign_transaction(tx, key.reveal())
    return SignedTx(
        nonce, "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex(), fees
    )


def broadcast(w3: Web3, raw: str, tx_hash: str) -> None:
    """Send `raw`; a node that already has it (re-broadcast after a crash) is fine. Raises
    Underpriced when the RPC refuses it for its fees, NonceUsed when its nonce is taken."""
    try:
        w3.eth.send_raw_transaction(HexBytes(raw))
    except (Web3RPCError, ValueError) as exc:  # JSON-RPC error answers
        text = str(exc).lower()
        if "already known" in text or "already imported" in text:
            return
        if any(marker in text for marker in _UNDERPRICED):
            raise Underpriced(str(exc)) from exc
        if "nonce too low" in text:
            raise NonceUsed(str(exc)) from exc
        raise


class NonceUsed(Exception):
    """The transaction's nonce was already used (by one of ours, or another transaction)."""


def receipt_or_none(w3: Web3, tx_hash: str) -> dict[str, Any] | None:
    """The receipt of `tx_hash`, None while it is not mined."""
    try:
        return dict(w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
    except TransactionNotFound:
        return None


def replay_revert(w3: Web3, sender: str, to: str, data: bytes, block_number: int) -> bytes:
    """Revert data of a mined, reverted call: re-run it on the state before its block."""
    try:
        w3.eth.call(
            {"from": sender, "to": to, "data": HexBytes(data)},
            block_identifier=max(block_number - 1, 0),
        )
    except (ContractCustomError, ContractLogicError) as exc:
        return revert_data(exc) or b""
    return b""
