"""RiskOracle on anvil with REAL EZKL proofs: acceptance through the Chainlink interface, and
every rejection the oracle promises (tampered proof, unregistered model, stale, replayed,
out-of-bounds, wrong feed, unauthorised transmitter), each asserted by its custom error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3

from circuits.artifacts import CircuitArtifacts
from circuits.fields import R
from circuits.layout import InstanceLayout
from circuits.pipeline import CircuitBuild, Proof, build_circuit, prove
from models.placeholder import make_placeholder_model, sample_features
from oracle.chain.anvil import ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import EIP170_LIMIT, connect
from oracle.chain.contracts import (
    FeedSpec,
    MarginParams,
    ModelSpec,
    OracleRevert,
    OracleStack,
    block_timestamp,
    deploy_oracle,
    feed_id,
    latest_round_data,
    register_model,
    retire_model,
    submit_report,
    to_feed_units,
)
from oracle.chain.verifier import OnChainVerifier, deploy_verifier

pytestmark = pytest.mark.slow

# anvil's second well-known development account (public; local chains only).
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
WIDE = 10**12  # bounds wide enough for any placeholder output at 8 decimals
FEED = "ETH-VOL"  # publishes output 1 of the placeholder (positive for these features)


@dataclass(frozen=True)
class World:
    build: CircuitBuild
    proofs: list[Proof]
    w3: Web3
    verifier: OnChainVerifier
    rpc_url: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One K=1 circuit, three real proofs of different features, anvil and the verifier."""
    root = tmp_path_factory.mktemp("contracts")
    model = make_placeholder_model(0)
    artifacts = CircuitArtifacts(root / "circuit")
    build = build_circuit(model, sample_features(1), sample_features(64, seed=1), artifacts)
    proofs = [
        prove(artifacts, sample_features(1, seed=seed).numpy(), f"p{seed}") for seed in (2, 3, 4)
    ]
    with AnvilNode(log_path=root / "anvil.log") as node:
        w3 = connect(node.rpc_url, ANVIL_DEV_KEY)
        yield World(build, proofs, w3, deploy_verifier(w3, artifacts), node.rpc_url)


def feed(**overrides: int) -> FeedSpec:
    values = {"min_answer": -WIDE, "max_answer": WIDE, "max_delta": WIDE, "output_index": 1}
    return FeedSpec(name=FEED, description="ETH 1d volatility", **(values | overrides))


def fresh_stack(world: World, spec: FeedSpec | None = None, register: bool = True) -> OracleStack:
    """A new oracle (own state) on the module's chain, with the circuit's model registered."""
    stack = deploy_oracle(
        world.w3,
        world.verifier.address,
        world.build.layout,
        [spec or feed()],
        MarginParams(),
    )
    if register:
        register_model(stack, ModelSpec(world.build.model_hash, round=7, dp_epsilon_milli=2500))
    return stack


def expected_answer(layout: InstanceLayout, proof: Proof, decimals: int = 8) -> int:
    fixed = layout.fixed_point_outputs(proof.instances)[0][1]
    return to_feed_units(fixed, layout.output_scale, decimals)


def assert_reverts(error: str, fn: Callable[..., Any], *args: Any) -> OracleRevert:
    with pytest.raises(OracleRevert) as info:
        fn(*args)
    assert info.value.error == error, info.value
    return info.value


def test_real_proof_is_published_through_the_chainlink_interface(world: World) -> None:
    stack = fresh_stack(world)
    proof, layout = world.proofs[0], world.build.layout
    assert proof.instances[1] == world.build.model_hash  # the hash we registered is the proof's
    observed = block_timestamp(world.w3) - 30
    submit_report(stack, proof.proof_bytes, proof.instances, [FEED], observed)

    adapter = stack.adapters[FEED]
    data = latest_round_data(adapter)
    assert data.round_id == data.answered_in_round == 1
    assert data.answer == expected_answer(layout, proof) != 0
    assert data.started_at == data.updated_at == observed
    assert adapter.functions.decimals().call() == 8
    assert adapter.functions.description().call() == "ETH 1d volatility"
    assert adapter.functions.getRoundData(1).call()[1] == data.answer
    # The input commitment is stored with the round, for audits by the data holders.
    assert stack.oracle.functions.inputCommitmentOf(feed_id(FEED), 1).call() == proof.instances[0]
    # The example consumer prices margin from the fresh value (no fallback).
    margin_bps, volatility, used_fallback = stack.margin_engine.functions.quote().call()
    assert (volatility, used_fallback) == (data.answer, False)
    assert margin_bps == min(500 + data.answer * 1000 // 10**8, 5000)


def test_eighteen_decimals_and_negative_outputs_decode_like_the_circuit(world: World) -> None:
    spec = feed(decimals=18, output_index=0, min_answer=-(10**30), max_answer=10**30)
    stack = fresh_stack(world, spec, register=True)
    proof, layout = world.proofs[0], world.build.layout
    submit_report(stack, proof.proof_bytes, proof.instances, [FEED], block_timestamp(world.w3))
    fixed = layout.fixed_point_outputs(proof.instances)[0][0]
    answer = latest_round_data(stack.adapters[FEED]).answer
    assert answer == to_feed_units(fixed, layout.output_scale, 18)
    assert answer / 10**18 == pytest.approx(layout.float_outputs(proof.instances)[0][0], abs=1e-12)


def test_verifier_is_pinned_and_every_contract_fits_eip170(world: World) -> None:
    stack = fresh_stack(world, register=False)
    assert stack.oracle.functions.verifier().call() == world.verifier.address
    assert all(0 < size <= EIP170_LIMIT for size in stack.sizes.values())
    assert set(stack.sizes) == {"RiskOracle", "RiskFeedAdapter", "MarginEngine"}


def test_rejects_tampered_proof_and_tampered_output(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    flipped = bytearray(proof.proof_bytes)
    flipped[len(flipped) // 2] ^= 0xFF
    assert_reverts(
        "ProofRejected", submit_report, stack, bytes(flipped), proof.instances, [FEED], now
    )
    bumped, index = list(proof.instances), world.build.layout.output_index(0, 1)
    bumped[index] = (bumped[index] + 1) % R
    assert_reverts("ProofRejected", submit_report, stack, proof.proof_bytes, bumped, [FEED], now)
    assert stack.oracle.functions.latestRoundId(feed_id(FEED)).call() == 0


def test_rejects_unregistered_and_retired_models(world: World) -> None:
    stack = fresh_stack(world, register=False)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    err = assert_reverts(
        "ModelNotActive", submit_report, stack, proof.proof_bytes, proof.instances, [FEED], now
    )
    assert int.from_bytes(err.args_[0], "big") == world.build.model_hash
    register_model(stack, ModelSpec(world.build.model_hash, activates_at=now + 3600))
    assert_reverts(
        "ModelNotActive", submit_report, stack, proof.proof_bytes, proof.instances, [FEED], now
    )
    retire_model(stack, world.build.model_hash)
    world.w3.provider.make_request("evm_increaseTime", [3601])
    world.w3.provider.make_request("evm_mine", [])
    assert not stack.oracle.functions.isActive(err.args_[0]).call()
    assert_reverts(
        "ModelNotActive",
        submit_report,
        stack,
        proof.proof_bytes,
        proof.instances,
        [FEED],
        block_timestamp(world.w3),
    )


def test_rejects_replayed_report(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    first = block_timestamp(world.w3) - 60
    submit_report(stack, proof.proof_bytes, proof.instances, [FEED], first)
    err = assert_reverts(
        "InputAlreadyReported",
        submit_report,
        stack,
        proof.proof_bytes,
        proof.instances,
        [FEED],
        first + 30,
    )
    assert err.args_ == (proof.instances[0], 1)


def test_rejects_stale_and_too_old_reports(world: World) -> None:
    stack = fresh_stack(world, feed(max_age=600))
    p1, p2 = world.proofs[0], world.proofs[1]
    now = block_timestamp(world.w3)
    submit_report(stack, p1.proof_bytes, p1.instances, [FEED], now - 10)
    err = assert_reverts(
        "StaleReport", submit_report, stack, p2.proof_bytes, p2.instances, [FEED], now - 10
    )
    assert err.args_[1:] == (now - 10, now - 10)
    other = fresh_stack(world, feed(max_age=600))
    assert_reverts(
        "ReportTooOld", submit_report, other, p2.proof_bytes, p2.instances, [FEED], now - 700
    )
    assert_reverts(
        "ReportFromFuture", submit_report, other, p2.proof_bytes, p2.instances, [FEED], now + 3600
    )
    # The stale attempt left the first round as the latest value.
    assert latest_round_data(stack.adapters[FEED]).answer == expected_answer(world.build.layout, p1)


def test_rejects_out_of_bounds_value_and_keeps_the_last_good_one(world: World) -> None:
    layout = world.build.layout
    p1, p2 = world.proofs[0], world.proofs[1]
    good, bad = expected_answer(layout, p1), expected_answer(layout, p2)
    assert good != bad
    # Bounds that admit p1's value and exclude p2's.
    lo, hi = (good - 1, good + 1)
    stack = fresh_stack(world, feed(min_answer=lo, max_answer=hi))
    now = block_timestamp(world.w3)
    submit_report(stack, p1.proof_bytes, p1.instances, [FEED], now - 20)
    err = assert_reverts(
        "AnswerOutOfBounds", submit_report, stack, p2.proof_bytes, p2.instances, [FEED], now - 10
    )
    assert err.args_[1:] == (bad, lo, hi)
    data = latest_round_data(stack.adapters[FEED])
    assert (data.round_id, data.answer) == (1, good)


def test_rejects_too_large_a_change(world: World) -> None:
    layout = world.build.layout
    p1, p2 = world.proofs[0], world.proofs[1]
    jump = abs(expected_answer(layout, p2) - expected_answer(layout, p1))
    stack = fresh_stack(world, feed(max_delta=jump - 1))
    now = block_timestamp(world.w3)
    submit_report(stack, p1.proof_bytes, p1.instances, [FEED], now - 20)
    assert_reverts(
        "ChangeTooLarge", submit_report, stack, p2.proof_bytes, p2.instances, [FEED], now - 10
    )


def test_rejects_wrong_feed(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    err = assert_reverts(
        "UnknownFeed", submit_report, stack, proof.proof_bytes, proof.instances, ["BTC-VOL"], now
    )
    assert err.args_ == (feed_id("BTC-VOL"),)
    assert_reverts(
        "FeedCountMismatch",
        submit_report,
        stack,
        proof.proof_bytes,
        proof.instances,
        [FEED, "BTC-VOL"],
        now,
    )


def test_transmitter_allow_list_and_permissionless_mode(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[2]
    outsider = connect(world.rpc_url, OTHER_KEY)
    as_outsider = OracleStack(
        w3=outsider,
        oracle=outsider.eth.contract(address=stack.oracle.address, abi=stack.oracle.abi),
        layout=stack.layout,
    )
    now = block_timestamp(world.w3)
    err = assert_reverts(
        "UnauthorizedTransmitter",
        submit_report,
        as_outsider,
        proof.proof_bytes,
        proof.instances,
        [FEED],
        now,
    )
    assert err.args_ == (outsider.eth.default_account,)
    stack.w3.eth.wait_for_transaction_receipt(
        stack.oracle.functions.setPermissionless(True).transact()
    )
    submit_report(as_outsider, proof.proof_bytes, proof.instances, [FEED], now)
    assert stack.oracle.functions.latestRoundId(feed_id(FEED)).call() == 1
