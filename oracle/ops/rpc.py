"""One-shot operator connections: a signing (or read-only) Web3 that gives up on an unreachable
RPC after a few attempts with one line, and checks that the oracle is a RiskOracle."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from eth_account import Account
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from oracle.chain.contracts import require_risk_oracle
from oracle.errors import ChainError
from oracle.node.retry import Backoff, with_retries

T = TypeVar("T")

# Same budget as the node's one-shot commands (oracle.node.cli): three tries, about 1.5 s.
ATTEMPTS = 3
BACKOFF = Backoff(initial=0.5, maximum=2.0, attempts=ATTEMPTS)
TIMEOUT = 30.0


def bounded(w3: Web3, what: str, call: Callable[[], T]) -> T:
    """`call()` retried on transport failures at most ATTEMPTS times (RpcUnavailable after)."""
    url = getattr(w3.provider, "endpoint_uri", str(w3.provider))
    return with_retries(call, what, str(url), BACKOFF)


def open_chain(
    rpc_url: str, private_key: str | None = None, expected_chain_id: int | None = None
) -> Web3:
    """A Web3 on `rpc_url` without web3's own retries (ours are bounded), signing locally with
    `private_key` when given; checks the chain id."""
    provider = Web3.HTTPProvider(
        rpc_url, request_kwargs={"timeout": TIMEOUT}, exception_retry_configuration=None
    )
    w3 = Web3(provider)
    chain_id = bounded(w3, "eth_chainId", lambda: w3.eth.chain_id)
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise ChainError(f"RPC {rpc_url} is chain id {chain_id}, expected {expected_chain_id}")
    if private_key is not None:
        account = Account.from_key(private_key)
        w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
        w3.eth.default_account = account.address
    return w3


def check_oracle(w3: Web3, address: str) -> None:
    """`require_risk_oracle` with bounded retries of its RPC calls."""
    bounded(w3, "RiskOracle check", lambda: require_risk_oracle(w3, address))
