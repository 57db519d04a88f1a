"""Signed transactions with explicit nonces, journaled before they are broadcast.

The node signs locally (eth_account) instead of letting the RPC assign a nonce, so the exact
raw transaction and its hash are in the journal before any byte leaves the machine. After a
crash the same raw transaction is re-broadcast (same nonce, same hash) or found mined: there is
never a second transaction for a round and never a nonce gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound

from oracle.node.keys import SigningKey


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction ready to broadcast."""

    nonce: int
    tx_hash: str
    raw: str  # 0x-prefixed RLP


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
    w3: Web3, key: SigningKey, to: str, data: bytes, gas: int, nonce: int, chain_id: int
) -> SignedTx:
    """Sign an EIP-1559 transaction at `nonce` (fees from the node's current base fee)."""
    block = w3.eth.get_block("latest")
    tip = w3.to_wei(1, "gwei")
    base = int(block.get("baseFeePerGas") or 0)
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": nonce,
        "to": to,
        "data": HexBytes(data),
        "gas": gas,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": 2 * base + tip,
        "value": 0,
        "type": 2,
    }
    signed = Account.sign_transaction(tx, key.reveal())
    return SignedTx(
        nonce, "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex()
    )


def broadcast(w3: Web3, raw: str, tx_hash: str) -> None:
    """Send `raw`; a node that already has it (re-broadcast after a crash) is fine."""
    try:
        w3.eth.send_raw_transaction(HexBytes(raw))
    except ValueError as exc:  # JSON-RPC error answers
        text = str(exc).lower()
        if "already known" in text or "already imported" in text:
            return
        if "nonce too low" in text and receipt_or_none(w3, tx_hash) is not None:
            return  # our own transaction was mined already
        raise


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
