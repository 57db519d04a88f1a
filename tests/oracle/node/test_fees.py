"""Fee bumping and retention on anvil with real proofs: a base-fee spike after signing, the
operator's fee cap, a crash between journaling a replacement and broadcasting it."""

from __future__ import annotations

import pytest

from oracle.node import journal as J
from oracle.node import runner as runner_module
from oracle.node.config import load_config, with_overrides
from oracle.node.journal import Journal
from oracle.node.keys import SigningKey
from oracle.node.runner import Node
from oracle.node.sources import CsvDirectorySource
from tests.oracle.node.conftest import FEEDS, Deployment, onchain_rounds
from tests.oracle.node.market import append_candle

pytestmark = pytest.mark.slow
GWEI = 10**9


def make_node(d: Deployment, **overrides: object) -> Node:
    config = with_overrides(load_config(d.config, env={}), **overrides)
    source = CsvDirectorySource(config.source_dir, calendar=config.calendar)
    node = Node(config, SigningKey(d.key), source, Journal(config.journal))
    # Calm fees to start with (an earlier test's spike decays over several blocks).
    node.w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])
    return node


def spike_before_broadcast(node: Node, base_fee_gwei: float) -> None:
    """Between signing and broadcasting, the next block's base fee jumps above the tx's cap."""
    confirm = node._confirm

    def spiked(rnd: J.Round) -> J.Round:
        node.w3.provider.make_request(
            "anvil_setNextBlockBaseFeePerGas", [hex(int(base_fee_gwei * GWEI))]
        )
        node._confirm = confirm  # type: ignore[method-assign]
        return confirm(rnd)

    node._confirm = spiked  # type: ignore[method-assign]


def test_an_underpriced_submission_is_replaced_with_higher_fees(deployment: Deployment) -> None:
    node = make_node(deployment)
    spike_before_broadcast(node, 50)
    rnd = node.tick().round
    assert rnd is not None and rnd.state == J.CONFIRMED, rnd and rnd.error
    assert rnd.replaced is not None and len(rnd.replaced) == 1
    receipt = node.w3.eth.get_transaction_receipt(rnd.tx_hash)
    assert receipt["effectiveGasPrice"] >= 50 * GWEI
    assert rnd.fees[0] >= 100 * GWEI and rnd.fees[1] > GWEI  # 2 x base + tip; tip bumped too
    assert node.w3.eth.get_transaction_count(deployment.address) == 1  # one tx at the nonce
    assert onchain_rounds(deployment) == [1, 1]
    assert node.metrics.get("proofcast_fee_bumps_total") == 1


def test_the_fee_cap_holds_and_the_round_waits_instead_of_being_lost(
    deployment: Deployment,
) -> None:
    node = make_node(deployment, max_fee_gwei=20.0)
    spike_before_broadcast(node, 50)
    rnd = node.tick().round
    assert rnd is not None and rnd.state == J.SUBMITTED  # not lost, not duplicated
    assert rnd.fees[0] == 20 * GWEI  # bumped up to the cap, never above
    assert node.metrics.get("proofcast_errors_total", kind="fee_cap") >= 1
    assert onchain_rounds(deployment) == [0, 0]
    # The spike passes: the next tick finishes the same round with the same transaction.
    node.w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])
    node.tick()
    done = node.journal.get(rnd.id)
    assert done.state == J.CONFIRMED and done.tx_hash == rnd.tx_hash
    assert node.w3.eth.get_transaction_count(deployment.address) == 1
    assert onchain_rounds(deployment) == [1, 1]


def test_a_crash_after_journaling_a_replacement_yields_exactly_one_round(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Killed(Exception):
        pass

    def crash(name: str) -> None:
        if name == "after_bump":
            raise Killed(name)

    node = make_node(deployment)
    spike_before_broadcast(node, 50)
    monkeypatch.setattr(runner_module, "crash_point", crash)
    with pytest.raises(Killed):
        node.tick()
    node.journal.close()
    monkeypatch.undo()
    (left,) = Journal(deployment.journal).unfinished()
    assert left.state == J.SUBMITTED and len(left.replaced or []) == 1
    restarted = make_node(deployment)
    restarted.tick()
    done = restarted.journal.get(left.id)
    assert done.state == J.CONFIRMED and done.tx_hash == left.tx_hash  # the replacement
    assert restarted.w3.eth.get_transaction_count(deployment.address) == 1
    assert onchain_rounds(deployment) == [1, 1]


def test_retention_keeps_the_last_rounds_and_reports_disk(deployment: Deployment) -> None:
    node = make_node(deployment, keep_rounds=1)
    first = node.tick().round
    assert first is not None and first.state == J.CONFIRMED
    proofs = node.artifacts.root / "proofs"
    assert (proofs / f"round-{first.id}").is_dir()
    for seed, feed in enumerate(FEEDS):
        append_candle(deployment.data_dir / f"{feed}.csv", seed=20 + seed)
    second = node.tick().round
    assert second is not None and second.state == J.CONFIRMED
    assert not (proofs / f"round-{first.id}").exists()  # older than the last 1: pruned
    assert (proofs / f"round-{second.id}").is_dir()
    old = node.journal.get(first.id)
    assert old.proof_hex is None and old.raw_tx is None and old.bars is None
    assert old.tx_hash == first.tx_hash and old.gas_used == first.gas_used  # audit trail kept
    assert node.journal.get(second.id).proof_hex is not None
    assert node.metrics.get("proofcast_disk_bytes") == node.disk_bytes() > 0
