"""RPC down or timing out: the node retries with backoff, logs it clearly, and carries on."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from oracle.node import journal as J
from oracle.node.config import load_config, with_overrides
from oracle.node.errors import RpcUnavailable
from oracle.node.faults import DOWN, STALL, UP, FaultyProxy
from oracle.node.journal import Journal
from oracle.node.keys import SigningKey
from oracle.node.retry import Backoff, with_retries
from oracle.node.runner import Node, TickResult, make_web3
from oracle.node.sources import CsvDirectorySource
from tests.oracle.node.conftest import Deployment, onchain_rounds

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy(deployment: Deployment) -> Iterator[FaultyProxy]:
    port = int(deployment.rpc_url.rsplit(":", 1)[1])
    proxy = FaultyProxy(port)
    yield proxy
    proxy.close()


def node_behind(d: Deployment, proxy: FaultyProxy) -> Node:
    config = with_overrides(
        load_config(d.config, env={}), rpc_url=proxy.url, rpc_timeout_seconds=1.0
    )
    source = CsvDirectorySource(config.source_dir, calendar=config.calendar)
    return Node(config, SigningKey(d.key), source, Journal(config.journal))


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("fault", [DOWN, STALL])
def test_node_retries_through_an_rpc_outage_and_publishes(
    deployment: Deployment,
    proxy: FaultyProxy,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = node_behind(deployment, proxy)
    proxy.set_mode(fault)
    results: list[TickResult] = []
    with caplog.at_level(logging.INFO, logger="proofcast.node"):
        worker = threading.Thread(target=lambda: results.append(node.tick()))
        worker.start()
        wait_for(lambda: node.metrics.get("proofcast_rpc_retries_total") >= 3)
        assert worker.is_alive() and not results  # still waiting, nothing lost
        proxy.set_mode(UP)
        worker.join(timeout=240)
    assert results and results[0].round is not None
    assert results[0].round.state == J.CONFIRMED
    expected = "ConnectionError" if fault == DOWN else "Timeout"
    assert f"RPC {proxy.url} failed during" in caplog.text and expected in caplog.text
    assert "retry 2 in 0.4s" in caplog.text  # exponential backoff (0.2 s, doubling)
    assert f"RPC {proxy.url} is back" in caplog.text
    assert onchain_rounds(deployment) == [1, 1]
    assert deployment.stack.w3.eth.get_transaction_count(deployment.address) == 1


def test_rpc_down_during_confirmation_rebroadcasts_the_same_transaction(
    deployment: Deployment, proxy: FaultyProxy
) -> None:
    node = node_behind(deployment, proxy)
    original = node._confirm

    def confirm_after_outage(rnd: J.Round) -> J.Round:
        proxy.set_mode(DOWN)  # signed and journaled; the RPC dies before broadcast
        threading.Timer(1.5, proxy.set_mode, args=(UP,)).start()
        return original(rnd)

    node._confirm = confirm_after_outage  # type: ignore[method-assign]
    result = node.tick()
    assert result.round is not None and result.round.state == J.CONFIRMED
    receipt = deployment.stack.w3.eth.get_transaction_receipt(result.round.tx_hash)
    assert receipt["status"] == 1 and receipt["blockNumber"] == result.round.block_number
    assert deployment.stack.w3.eth.get_transaction_count(deployment.address) == 1
    assert node.metrics.get("proofcast_rpc_retries_total") >= 1


def test_bounded_retries_give_up_with_a_clear_error(proxy: FaultyProxy) -> None:
    proxy.set_mode(DOWN)
    config_w3 = make_web3(
        type("C", (), {"rpc_url": proxy.url, "rpc_timeout_seconds": 1.0})()  # type: ignore[arg-type]
    )
    with pytest.raises(RpcUnavailable, match=rf"RPC {proxy.url} unavailable for eth_chainId"):
        with_retries(
            lambda: config_w3.eth.chain_id,
            "eth_chainId",
            proxy.url,
            Backoff(initial=0.05, attempts=3),
        )
    assert proxy.refused >= 3
