"""solc-js compilation, anvil lifecycle and deployment guards (real tools, no mocks)."""

import pytest
from web3 import Web3

from oracle.chain.anvil import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import EIP170_LIMIT, connect, deploy
from oracle.chain.solidity import compile_sources
from oracle.errors import ChainError, CompileError, ContractSizeError

COUNTER = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract Counter { uint256 public n; function inc() external { n += 1; } }
"""


def test_compiles_with_solc_js() -> None:
    counter = compile_sources({"Counter.sol": COUNTER})["Counter"]
    assert counter.runtime_size > 0
    assert any(item.get("name") == "inc" for item in counter.abi)


def test_compile_error_is_reported() -> None:
    with pytest.raises(CompileError, match=r"Broken\.sol"):
        compile_sources({"Broken.sol": "pragma solidity ^0.8.24; contract { }"})


@pytest.fixture(scope="module")
def anvil() -> AnvilNode:
    with AnvilNode() as node:
        yield node


def test_anvil_runs_on_loopback_and_stops() -> None:
    node = AnvilNode().start()
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    assert node.rpc_url.startswith("http://127.0.0.1:")
    assert w3.eth.chain_id == ANVIL_CHAIN_ID
    node.stop()
    assert not w3.is_connected()


def test_wrong_chain_id_is_refused(anvil: AnvilNode) -> None:
    with pytest.raises(ChainError, match="expected 1"):
        connect(anvil.rpc_url, ANVIL_DEV_KEY, expected_chain_id=1)


def test_unreachable_rpc_is_reported() -> None:
    with pytest.raises(ChainError, match="cannot reach"):
        connect("http://127.0.0.1:9", ANVIL_DEV_KEY)


def test_deploy_and_call(anvil: AnvilNode) -> None:
    w3 = connect(anvil.rpc_url, ANVIL_DEV_KEY, expected_chain_id=ANVIL_CHAIN_ID)
    deployment = deploy(w3, compile_sources({"Counter.sol": COUNTER})["Counter"])
    assert deployment.gas_used > 0
    w3.eth.wait_for_transaction_receipt(deployment.contract.functions.inc().transact())
    assert deployment.contract.functions.n().call() == 1


def test_oversized_contract_is_refused_before_sending(anvil: AnvilNode) -> None:
    w3 = connect(anvil.rpc_url, ANVIL_DEV_KEY)
    # A contract whose runtime embeds a constant larger than EIP-170 allows.
    blob = "00" * (EIP170_LIMIT + 10)
    source = f"""// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract Big {{ function b() external pure returns (bytes memory) {{ return hex"{blob}"; }} }}
"""
    big = compile_sources({"Big.sol": source})["Big"]
    assert big.runtime_size > EIP170_LIMIT
    nonce = w3.eth.get_transaction_count(w3.eth.default_account)
    with pytest.raises(ContractSizeError, match="EIP-170"):
        deploy(w3, big)
    assert w3.eth.get_transaction_count(w3.eth.default_account) == nonce
