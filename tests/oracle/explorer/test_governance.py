"""The explorer and governance (issue 22 items 4 and 5): adapters come from the oracle's on-chain
registry, never from a contract that merely claims to be one, and queued admin changes are on the
Health page until they run or are cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from oracle.attest.server import BackgroundServer
from oracle.chain.client import connect, deploy
from oracle.chain.contracts import (
    ADAPTER_CONTRACT,
    HISTORY_REPORTS,
    ORACLE_CONTRACT,
    OracleStack,
    PendingChange,
    cancel_change,
    compile_oracle_contracts,
    configure_feed,
    feed_id,
    queue_change,
    send,
    set_adapter_call,
    set_attesters_call,
    set_transmitter_call,
    var_output,
)
from oracle.explorer.reader import ExplorerReader
from oracle.explorer.site import create_app
from tests.oracle.explorer.conftest import REFRESH, Published
from tests.oracle.node.conftest import feed_spec

pytestmark = pytest.mark.slow

# anvil's second well-known development account (public; local chains only): the stranger.
STRANGER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
DELAY = 2 * 86_400
FEED = "ETH-USD"


@dataclass
class Governed:
    """A second oracle (2-day governance delay, no report yet) with one feed, a stranger's
    look-alike adapter created before the real one, and three queued changes."""

    stack: OracleStack
    real: str
    look_alike: str
    queued: PendingChange  # still waiting for its eta
    cancelled: PendingChange
    executed: PendingChange


@pytest.fixture(scope="module")
def governed(published: Published) -> Governed:
    w3, layout = published.w3, published.stack.layout
    compiled = compile_oracle_contracts()
    oracle = deploy(
        w3,
        compiled[ORACLE_CONTRACT],
        published.stack.oracle.functions.verifier().call(),
        layout.num_feeds,
        layout.outputs_per_feed,
        layout.output_scale,
        HISTORY_REPORTS,
        var_output(layout.outputs_per_feed),
        w3.eth.default_account,
        DELAY,
    ).contract
    stack = OracleStack(w3=w3, oracle=oracle, layout=layout)
    configure_feed(stack, feed_spec(FEED))
    # The stranger's look-alike comes first: the old explorer showed the first contract that
    # claimed to be an adapter of the oracle.
    stranger = connect(published.anvil.rpc_url, STRANGER_KEY)
    look_alike = deploy(
        stranger, compiled[ADAPTER_CONTRACT], oracle.address, feed_id(FEED), 0, 0, "ETH-USD vol"
    ).contract.address
    real = deploy(
        w3, compiled[ADAPTER_CONTRACT], oracle.address, feed_id(FEED), 0, 0, "ETH-USD out0"
    ).contract.address
    send(w3, set_adapter_call(stack, feed_id(FEED), 0, real), "setAdapter")
    newcomer = Account.create().address
    queued = queue_change(stack, set_attesters_call(stack, [newcomer], 1))
    cancelled = queue_change(stack, set_transmitter_call(stack, newcomer, True))
    cancel_change(stack, cancelled.id)
    # Before the first report a direct call acts at once and consumes its queued twin.
    executed = queue_change(stack, stack.oracle.functions.setPermissionless(True))
    send(w3, executed.fn, "setPermissionless")
    return Governed(stack, real, look_alike, queued, cancelled, executed)


def test_adapters_come_from_the_registry_not_from_look_alikes(governed: Governed) -> None:
    oracle = governed.stack.oracle
    snap = ExplorerReader(governed.stack.w3, oracle.address).snapshot()
    [feed] = snap.feeds
    assert (
        feed.outputs[0].adapter
        == governed.real
        == oracle.functions.adapterOf(feed_id(FEED), 0).call()
    )
    assert feed.outputs[0].name == "ETH-USD out0"
    assert feed.outputs[1].adapter is None  # nothing registered for output 1
    assert governed.look_alike.lower() not in str(snap.to_json()).lower()
    # The look-alike really claims to be this oracle's adapter of that feed and output.
    claim = governed.stack.w3.eth.contract(
        address=governed.look_alike, abi=compile_oracle_contracts()[ADAPTER_CONTRACT].abi
    ).functions
    assert (claim.oracle().call(), bytes(claim.feedId().call()), claim.outputIndex().call()) == (
        oracle.address,
        feed_id(FEED),
        0,
    )


def test_admin_changes_are_listed_with_their_status(governed: Governed) -> None:
    snap = ExplorerReader(governed.stack.w3, governed.stack.oracle.address).snapshot()
    assert snap.oracle.governance_delay == DELAY
    by_id = {c.id: c for c in snap.oracle.changes}
    expected = [
        (governed.queued, "setAttesters", "queued"),
        (governed.cancelled, "setTransmitter", "cancelled"),
        (governed.executed, "setPermissionless", "executed"),
    ]
    assert len(by_id) == 3
    for change, function, status in expected:
        shown = by_id["0x" + change.id.hex()]
        assert (shown.function, shown.status, shown.eta) == (function, status, change.eta)
    queued = by_id["0x" + governed.queued.id.hex()]
    assert Web3.to_checksum_address(queued.args.split("[")[1][:42]) in [
        Web3.to_checksum_address(a) for a in governed.queued.fn.args[0]
    ]
    assert snap.oracle.changes[0].id == "0x" + governed.executed.id.hex()  # newest


def test_health_page_shows_pending_changes(governed: Governed, page: Any) -> None:
    reader = ExplorerReader(governed.stack.w3, governed.stack.oracle.address)
    with BackgroundServer(create_app(reader, refresh=REFRESH)) as server:
        page.goto(f"{server.url}/health")
        row = page.locator(f'tr[data-change="0x{governed.queued.id.hex()}"]')
        assert row.locator(".badge").inner_text() == "queued"
        assert "setAttesters" in row.inner_text()
        assert page.locator("td.governance-delay").inner_text().startswith("2d 0h")
        cancelled = page.locator(f'tr[data-change="0x{governed.cancelled.id.hex()}"]')
        assert cancelled.locator(".badge").inner_text() == "cancelled"
        page.goto(f"{server.url}/")
        card = page.locator(f'section[data-feed="{FEED}"]')
        assert card.locator('tr[data-output="0"] td.adapter').inner_text() == governed.real
