"""A signing web3 connection and contract deployment, with errors that name chain and address."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.middleware import SignAndSendRawMiddlewareBuilder

from oracle.chain.solidity import CompiledContract
from oracle.errors import ChainError, ContractSizeError

log = logging.getLogger(__name__)

EIP170_LIMIT = 24_576  # bytes of runtime code a contract may have on Ethereum and anvil by default


def connect(rpc_url: str, private_key: str, expected_chain_id: int | None = None) -> Web3:
    """A Web3 on `rpc_url` that signs locally with `private_key` and checks the chain id."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:
        raise ChainError(f"cannot reach RPC {rpc_url}: {exc}") from exc
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise ChainError(f"RPC {rpc_url} is chain id {chain_id}, expected {expected_chain_id}")
    account = Account.from_key(private_key)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    w3.eth.default_account = account.address
    return w3


@dataclass(frozen=True)
class Deployment:
    """A deployed contract and what deploying it cost."""

    contract: Contract
    gas_used: int
    runtime_size: int


def deploy(w3: Web3, compiled: CompiledContract, *args: Any) -> Deployment:
    """Deploy `compiled`, refusing code over EIP-170 before spending gas."""
    if compiled.runtime_size > EIP170_LIMIT:
        raise ContractSizeError(
            f"{compiled.name} runtime is {compiled.runtime_size} bytes, "
            f"over the EIP-170 limit of {EIP170_LIMIT}"
        )
    factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    try:
        tx_hash = factory.constructor(*args).transact()
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    except Exception as exc:
        raise ChainError(f"deploying {compiled.name} failed: {exc}") from exc
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise ChainError(f"deploying {compiled.name} reverted (tx {tx_hash.hex()})")
    address = receipt["contractAddress"]
    code = w3.eth.get_code(address)
    if len(code) == 0:
        raise ChainError(f"{compiled.name} at {address} has no code after deployment")
    log.info(
        "deployed %s at %s (%d bytes, %d gas)",
        compiled.name,
        address,
        len(code),
        receipt["gasUsed"],
    )
    return Deployment(
        w3.eth.contract(address=address, abi=compiled.abi), receipt["gasUsed"], len(code)
    )


def transact(w3: Web3, fn: Any, what: str) -> dict[str, Any]:
    """Send a contract call as a transaction and wait; raises ChainError when it reverts."""
    try:
        tx_hash = fn.transact()
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    except Exception as exc:
        raise ChainError(f"{what} failed: {exc}") from exc
    if receipt["status"] != 1:
        raise ChainError(f"{what} reverted (tx {tx_hash.hex()})")
    return dict(receipt)
