"""RiskOracle on anvil with REAL EZKL proofs and real EIP-712 attester signatures: acceptance
through the Chainlink interface, and every rejection the oracle promises, each asserted by its
custom error. (The attesters' own checks and the node are tested in tests/oracle/attest and
tests/oracle/test_attacks.py.)"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from circuits.artifacts import CircuitArtifacts
from circuits.fields import R
from circuits.pipeline import CircuitBuild, Proof, build_circuit, prove
from models.evaluation import traffic_light
from models.placeholder import make_placeholder_model, sample_features
from oracle.attest.report import digest, sign_report
from oracle.chain.anvil import ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import EIP170_LIMIT, connect, deploy
from oracle.chain.contracts import (
    EMPTY_SLOT,
    ZONES,
    FeedSpec,
    MarginParams,
    ModelSpec,
    OracleRevert,
    OracleStack,
    OutputSpec,
    SlotReport,
    block_timestamp,
    calldata,
    cancel_change,
    change_status,
    compile_oracle_contracts,
    configure_feed_call,
    decode_history,
    deploy_oracle,
    execute_change,
    feed_id,
    get_round_data,
    latest_round_data,
    queue_change,
    register_model,
    report_digest,
    retire_model,
    set_attesters,
    set_attesters_call,
    set_transmitter_call,
    submit_report,
    to_feed_units,
)
from oracle.chain.verifier import OnChainVerifier, deploy_verifier

pytestmark = pytest.mark.slow

# anvil's second well-known development account (public; local chains only).
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
WIDE = 10**12  # bounds wide enough for any placeholder output at 8 decimals
FEEDS = ("ETH", "BTC")
ATTESTERS = [Account.from_key(bytes([i + 1]) * 32) for i in range(4)]  # test keys only
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class World:
    build: CircuitBuild
    proofs: list[Proof]
    w3: Web3
    verifier: OnChainVerifier
    rpc_url: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One K=2 circuit (J=2 outputs), three real proofs of different features, anvil, verifier."""
    root = tmp_path_factory.mktemp("contracts")
    model = make_placeholder_model(0)
    artifacts = CircuitArtifacts(root / "circuit")
    build = build_circuit(model, sample_features(2), sample_features(64, seed=1), artifacts)
    proofs = [
        prove(artifacts, sample_features(2, seed=seed).numpy(), f"p{seed}") for seed in (2, 3, 4)
    ]
    with AnvilNode(log_path=root / "anvil.log") as node:
        w3 = connect(node.rpc_url, ANVIL_DEV_KEY)
        yield World(build, proofs, w3, deploy_verifier(w3, artifacts), node.rpc_url)


def feed(name: str, **overrides: Any) -> FeedSpec:
    outputs = tuple(
        OutputSpec(out, -WIDE, WIDE, 2 * WIDE, description=f"{name} {out}")
        for out in ("vol", "var99")
    )
    return replace(FeedSpec(name=name, outputs=outputs, description=f"{name} risk"), **overrides)


def fresh_stack(
    world: World, specs: list[FeedSpec] | None = None, register: bool = True
) -> OracleStack:
    """A new oracle (own state) on the module's chain: 4 attesters, threshold 2, model set."""
    stack = deploy_oracle(
        world.w3,
        world.verifier.address,
        world.build.layout,
        specs or [feed(n) for n in FEEDS],
        attesters=[a.address for a in ATTESTERS],
        threshold=2,
        margin=MarginParams(adapter="ETH/vol"),
    )
    if register:
        register_model(stack, ModelSpec(world.build.model_hash, round=7, dp_epsilon_milli=2500))
    return stack


def report(stack: OracleStack, observed: list[int], feeds: tuple[str, ...] = FEEDS) -> SlotReport:
    ids = tuple(EMPTY_SLOT if f is None else feed_id(f) for f in feeds)
    version = stack.oracle.functions.configVersion().call()
    return SlotReport(version, ids, tuple(observed), block_timestamp(stack.w3) + 300)


def sign(
    account: Any, stack: OracleStack, rep: SlotReport, commitment: int, chain_id: int | None = None
) -> bytes:
    """An attester's EIP-712 signature (eth_account, independently of the contract)."""
    chain = chain_id or stack.w3.eth.chain_id
    return sign_report(account.key, chain, stack.oracle.address, rep, commitment)


def attest(stack: OracleStack, rep: SlotReport, proof: Proof, who: tuple[int, ...] = (0, 2)):
    return [sign(ATTESTERS[i], stack, rep, proof.instances[0]) for i in who]


def publish(stack: OracleStack, proof: Proof, observed: list[int], **kw: Any) -> dict[str, Any]:
    rep = report(stack, observed, **kw)
    return submit_report(stack, rep, proof.proof_bytes, proof.instances, attest(stack, rep, proof))


def expected(world: World, proof: Proof, slot: int, output: int, decimals: int = 8) -> int:
    fixed = world.build.layout.fixed_point_outputs(proof.instances)[slot][output]
    return to_feed_units(fixed, world.build.layout.output_scale, decimals)


def assert_reverts(error: str, fn: Callable[..., Any], *args: Any) -> OracleRevert:
    with pytest.raises(OracleRevert) as info:
        fn(*args)
    assert info.value.error == error, info.value
    return info.value


def test_attested_real_proof_is_published_through_the_chainlink_interface(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    assert proof.instances[1] == world.build.model_hash  # the hash we registered is the proof's
    now = block_timestamp(world.w3)
    publish(stack, proof, [now - 30, now - 90])  # each feed has its own observation time

    accepted = stack.oracle.functions.reportOf(1).call()[0]
    for slot, name in enumerate(FEEDS):
        for output, key in enumerate(("vol", "var99")):
            data = latest_round_data(stack.adapters[f"{name}/{key}"])
            assert data.round_id == data.answered_in_round == 1  # the feed's first round
            assert data.answer == expected(world, proof, slot, output)
            assert data.started_at == (now - 30 if slot == 0 else now - 90)  # the observation
            assert data.updated_at == accepted  # the block that accepted it
        # The log volatility in percent: daily = exp(log vol), annualised = daily x sqrt(252).
        log_vol = expected(world, proof, slot, 0) / 10**8
        daily = latest_round_data(stack.adapters[f"{name}/vol:daily_pct"])
        annual = latest_round_data(stack.adapters[f"{name}/vol:annual_pct"])
        assert daily.answer > 0 and annual.answer > 0
        assert daily.answer / 10**8 == pytest.approx(math.exp(log_vol), rel=1e-7)
        assert annual.answer / 10**8 == pytest.approx(math.exp(log_vol) * math.sqrt(252), rel=1e-7)
        assert (daily.round_id, daily.updated_at) == (1, accepted)
    adapter = stack.adapters["ETH/var99"]
    assert adapter.functions.decimals().call() == 8
    assert adapter.functions.description().call() == "ETH var99"
    describe = {k: stack.adapters[f"ETH/vol:{k}"].functions.description().call() for k in
                ("daily_pct", "annual_pct")}  # fmt: skip
    assert describe == {"daily_pct": "ETH daily volatility (%)",
                        "annual_pct": "ETH annualised volatility (%)"}  # fmt: skip
    # The input commitment is stored with the round, for audits by the data holders.
    assert (
        stack.oracle.functions.inputCommitmentOf(feed_id("ETH"), 1 << 8).call()
        == (proof.instances[0])
    )
    _accepted, model, commitment, history = stack.oracle.functions.reportOf(1).call()
    assert int.from_bytes(model, "big") == world.build.model_hash
    assert commitment == proof.instances[0]
    records = decode_history(history, world.build.layout.outputs_per_feed)
    assert [(r.feed_index, r.observed_at) for r in records] == [(1, now - 30), (2, now - 90)]
    fixed = world.build.layout.fixed_point_outputs(proof.instances)
    assert [list(r.answers) for r in records] == fixed
    # The example consumer prices margin from the fresh value (no fallback).
    data = latest_round_data(stack.adapters["ETH/vol"])
    _margin, volatility, used_fallback = stack.margin_engine.functions.quote().call()
    fresh = data.answer > 0  # the engine falls back on a non-positive volatility
    assert (volatility, used_fallback) == ((data.answer, False) if fresh else (150_000_000, True))


def test_contract_digest_equals_the_attesters_eip712_encoding(world: World) -> None:
    stack = fresh_stack(world, register=False)
    rep = report(stack, [123, 456])
    onchain = report_digest(stack, rep, 789)
    assert onchain == digest(stack.w3.eth.chain_id, stack.oracle.address, rep, 789)
    signature = sign(ATTESTERS[0], stack, rep, 789)
    assert Account._recover_hash(onchain, signature=signature) == ATTESTERS[0].address


def test_eighteen_decimals_and_negative_outputs_decode_like_the_circuit(world: World) -> None:
    wide = tuple(OutputSpec(o, -(10**30), 10**30, 10**31) for o in ("vol", "var99"))
    stack = fresh_stack(world, [feed(n, decimals=18, outputs=wide) for n in FEEDS])
    proof, layout = world.proofs[0], world.build.layout
    now = block_timestamp(world.w3)
    publish(stack, proof, [now, now])
    fixed = layout.fixed_point_outputs(proof.instances)
    assert min(v for row in fixed for v in row) < 0 < max(v for row in fixed for v in row)
    for slot, name in enumerate(FEEDS):
        answer = latest_round_data(stack.adapters[f"{name}/vol"]).answer
        assert answer == to_feed_units(fixed[slot][0], layout.output_scale, 18)
        assert answer / 10**18 == pytest.approx(layout.float_outputs(proof.instances)[slot][0])


def test_verifier_is_pinned_and_every_contract_fits_eip170(world: World) -> None:
    stack = fresh_stack(world, register=False)
    assert stack.oracle.functions.verifier().call() == world.verifier.address
    assert all(0 < size <= EIP170_LIMIT for size in stack.sizes.values())
    assert set(stack.sizes) == {"RiskOracle", "RiskFeedAdapter", "MarginEngine"}


def test_rejects_tampered_proof_and_tampered_output(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    rep = report(stack, [now, now])
    sigs = attest(stack, rep, proof)
    flipped = bytearray(proof.proof_bytes)
    flipped[len(flipped) // 2] ^= 0xFF
    assert_reverts(
        "ProofRejected", submit_report, stack, rep, bytes(flipped), proof.instances, sigs
    )
    bumped, index = list(proof.instances), world.build.layout.output_index(0, 1)
    bumped[index] = (bumped[index] + 1) % R
    assert_reverts("ProofRejected", submit_report, stack, rep, proof.proof_bytes, bumped, sigs)
    assert stack.oracle.functions.latestRoundId(feed_id("ETH")).call() == 0


def test_rejects_any_instance_plus_the_field_modulus(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    rep = report(stack, [now, now])
    sigs = attest(stack, rep, proof)
    for index in range(len(proof.instances)):
        aliased = list(proof.instances)
        aliased[index] += R  # the same field element, a different uint256
        err = assert_reverts(
            "InstanceOutOfField", submit_report, stack, rep, proof.proof_bytes, aliased, sigs
        )
        assert err.args_ == (index, aliased[index])


def test_rejects_unregistered_and_retired_models(world: World) -> None:
    stack = fresh_stack(world, register=False)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    err = assert_reverts("ModelNotActive", publish, stack, proof, [now, now])
    assert int.from_bytes(err.args_[0], "big") == world.build.model_hash
    register_model(stack, ModelSpec(world.build.model_hash, activates_at=now + 3600))
    assert_reverts("ModelNotActive", publish, stack, proof, [now, now])
    retire_model(stack, world.build.model_hash)
    world.w3.provider.make_request("evm_increaseTime", [3601])
    world.w3.provider.make_request("evm_mine", [])
    assert not stack.oracle.functions.isActive(err.args_[0]).call()
    later = block_timestamp(world.w3)
    assert_reverts("ModelNotActive", publish, stack, proof, [later, later])


def test_signature_thresholds_and_signers(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[1]
    now = block_timestamp(world.w3)
    rep = report(stack, [now, now])
    go = (stack, rep, proof.proof_bytes, proof.instances)
    # f = 1 signature alone (e.g. one attester colluding with the transmitter).
    err = assert_reverts("NotEnoughSignatures", submit_report, *go, attest(stack, rep, proof, (1,)))
    assert err.args_ == (1, 2)
    err = assert_reverts("DuplicateSigner", submit_report, *go, attest(stack, rep, proof, (1, 1)))
    assert err.args_ == (ATTESTERS[1].address,)
    transmitter_key = Account.from_key(OTHER_KEY)
    forged = [sign(ATTESTERS[1], stack, rep, proof.instances[0])]
    forged.append(sign(transmitter_key, stack, rep, proof.instances[0]))
    err = assert_reverts("UnknownSigner", submit_report, *go, forged)
    assert err.args_ == (transmitter_key.address,)
    # The malleable twin of a valid signature (s -> n - s, v flipped) is refused.
    good = attest(stack, rep, proof, (0, 3))
    r, s, v = good[1][:32], int.from_bytes(good[1][32:64], "big"), good[1][64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    err = assert_reverts("MalleableSignature", submit_report, *go, [good[0], twin])
    assert err.args_ == (1,)
    submit_report(*go, attest(stack, rep, proof, (3, 1, 2)))  # any 3 of 4, any order
    assert stack.oracle.functions.reportCount().call() == 1


def test_signatures_bind_feed_ids_times_and_inputs(world: World) -> None:
    stack = fresh_stack(world)
    p0, p1 = world.proofs[0], world.proofs[1]
    now = block_timestamp(world.w3)
    rep = report(stack, [now - 10, now - 20])
    sigs = attest(stack, rep, p0)
    permuted = replace(rep, feed_ids=rep.feed_ids[::-1])  # feed A's values onto feed B
    assert_reverts(
        "UnknownSigner", submit_report, stack, permuted, p0.proof_bytes, p0.instances, sigs
    )
    moved = replace(rep, observed_at=(now - 10 - 80_000, now - 20))  # inside no maxAge check yet
    assert_reverts("UnknownSigner", submit_report, stack, moved, p0.proof_bytes, p0.instances, sigs)
    # A valid proof of the registered model on other (cherry-picked) inputs.
    assert_reverts("UnknownSigner", submit_report, stack, rep, p1.proof_bytes, p1.instances, sigs)
    submit_report(stack, rep, p0.proof_bytes, p0.instances, sigs)


def test_signatures_for_an_older_config_version_are_refused(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    rep = report(stack, [now, now])
    sigs = attest(stack, rep, proof)
    set_attesters(stack, [a.address for a in ATTESTERS], 2)  # same set: version 2
    err = assert_reverts(
        "StaleConfigVersion", submit_report, stack, rep, proof.proof_bytes, proof.instances, sigs
    )
    assert err.args_ == (1, 2)
    bumped = replace(rep, config_version=2)
    assert_reverts(
        "UnknownSigner", submit_report, stack, bumped, proof.proof_bytes, proof.instances, sigs
    )


def test_accepted_report_cannot_be_replayed_on_another_oracle_or_chain(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = fresh_stack(world)
    other = fresh_stack(world)  # a second deployment with the same attesters and model
    proof = world.proofs[2]
    now = block_timestamp(world.w3)
    rep = report(stack, [now, now])
    sigs = attest(stack, rep, proof)
    submit_report(stack, rep, proof.proof_bytes, proof.instances, sigs)
    replay = report(other, [now, now])
    # Same version, feeds and times (and expiry): only the domain differs.
    assert replace(replay, valid_until=rep.valid_until) == rep
    assert_reverts(
        "UnknownSigner", submit_report, other, rep, proof.proof_bytes, proof.instances, sigs
    )
    # The same oracle address on another chain id (a fresh anvil, same deployer and nonces).
    root = tmp_path_factory.mktemp("other-chain")
    with AnvilNode(log_path=root / "anvil.log", chain_id=31338) as node:
        w3 = connect(node.rpc_url, ANVIL_DEV_KEY)
        verifier = deploy_verifier(w3, world.build.artifacts)
        fork = fresh_stack(replace(world, w3=w3, verifier=verifier))
        rep_fork = report(fork, [block_timestamp(w3)] * 2)
        sigs_fork = [sign(ATTESTERS[i], fork, rep_fork, proof.instances[0], 31337) for i in (0, 2)]
        assert_reverts(
            "UnknownSigner", submit_report, fork, rep_fork, proof.proof_bytes, proof.instances,
            sigs_fork,
        )  # fmt: skip


def test_rejects_replayed_stale_too_old_and_future_reports(world: World) -> None:
    stack = fresh_stack(world, [feed("ETH", max_age=600), feed("BTC", max_age=600)])
    p1, p2 = world.proofs[0], world.proofs[1]
    now = block_timestamp(world.w3)
    publish(stack, p1, [now - 10, now - 10])
    err = assert_reverts("StaleReport", publish, stack, p1, [now - 10, now - 10])  # replay
    assert err.args_[1:] == (now - 10, now - 10)
    assert_reverts("StaleReport", publish, stack, p2, [now - 10, now - 5])
    other = fresh_stack(world, [feed("ETH", max_age=600), feed("BTC", max_age=600)])
    assert_reverts("ReportTooOld", publish, other, p2, [now - 700, now])
    assert_reverts("ReportFromFuture", publish, other, p2, [now, now + 3600])
    # The failed attempts left the first round as the latest value.
    data = latest_round_data(stack.adapters["ETH/vol"])
    assert data.answer == expected(world, p1, 0, 0)


def test_two_honest_reports_on_identical_features_are_both_accepted(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    publish(stack, proof, [now - 60, now - 60])
    publish(stack, proof, [now - 30, now - 30])
    assert stack.oracle.functions.reportCount().call() == 2


def test_a_left_out_feed_keeps_its_round_while_the_others_publish(world: World) -> None:
    stack = fresh_stack(world)
    p0, p1 = world.proofs[0], world.proofs[1]
    now = block_timestamp(world.w3)
    publish(stack, p0, [now - 60, now - 60])
    publish(stack, p1, [now - 30, 0], feeds=("ETH", None))
    assert latest_round_data(stack.adapters["ETH/vol"]).round_id == 2
    btc = latest_round_data(stack.adapters["BTC/vol"])
    assert (btc.round_id, btc.answer) == (1, expected(world, p0, 1, 0))  # BTC's rounds: 1
    # A Chainlink-style consumer with the recommended checks (positive answer, 26 h heartbeat
    # on updatedAt, 4-day data age on startedAt) reads ETH's daily vol in percent and averages
    # its two rounds by walking back with getRoundData(roundId - 1).
    daily = stack.adapters["ETH/vol:daily_pct"]
    consumer = deploy(world.w3, compile_oracle_contracts()["ChainlinkConsumer"], daily.address,
                      26 * 3600, 4 * 86400).contract  # fmt: skip
    round_id, answer, _updated = consumer.functions.latest().call()
    assert (round_id, answer) == (2, latest_round_data(daily).answer) and answer > 0
    first = get_round_data(daily, round_id - 1).answer
    assert min(first, answer) <= consumer.functions.twap(2).call() <= max(first, answer)
    err = assert_reverts("NoDataPresent", get_round_data, daily, 3)
    assert err.args_[1] == 3


def test_guardrails_bounds_change_and_window(world: World) -> None:
    p1, p2 = world.proofs[0], world.proofs[1]
    good, bad = expected(world, p1, 0, 0), expected(world, p2, 0, 0)
    assert good != bad
    bounded = feed("ETH", outputs=(OutputSpec("vol", good - 1, good + 1, WIDE),
                                   OutputSpec("var99", -WIDE, WIDE, WIDE)))  # fmt: skip
    stack = fresh_stack(world, [bounded, feed("BTC")])
    now = block_timestamp(world.w3)
    publish(stack, p1, [now - 20, now - 20])
    err = assert_reverts("AnswerOutOfBounds", publish, stack, p2, [now - 10, now - 10])
    assert err.args_[1] == 0  # output index
    assert latest_round_data(stack.adapters["ETH/vol"]).answer == good

    jump = abs(bad - good)
    tight = feed("ETH", outputs=(OutputSpec("vol", -WIDE, WIDE, jump - 1),
                                 OutputSpec("var99", -WIDE, WIDE, WIDE)))  # fmt: skip
    stack = fresh_stack(world, [tight, feed("BTC")])
    publish(stack, p1, [now - 20, now - 20])
    assert_reverts("ChangeTooLarge", publish, stack, p2, [now - 10, now - 10])

    windowed = feed("ETH", window=86_400, outputs=(
        OutputSpec("vol", -WIDE, WIDE, WIDE, max_window_delta=jump - 1),
        OutputSpec("var99", -WIDE, WIDE, WIDE, max_window_delta=WIDE)))  # fmt: skip
    stack = fresh_stack(world, [windowed, feed("BTC")])
    publish(stack, p1, [now - 20, now - 20])
    assert_reverts("WindowChangeTooLarge", publish, stack, p2, [now - 10, now - 10])


def test_rejects_unknown_feed_and_wrong_slot_count(world: World) -> None:
    stack = fresh_stack(world)
    proof = world.proofs[0]
    now = block_timestamp(world.w3)
    err = assert_reverts(
        "UnknownFeed", lambda: publish(stack, proof, [now, now], feeds=("ETH", "SOL"))
    )
    assert err.args_ == (feed_id("SOL"),)
    assert_reverts("FeedCountMismatch", lambda: publish(stack, proof, [now], feeds=("ETH",)))


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
    rep = report(stack, [now, now])
    sigs = attest(stack, rep, proof)
    err = assert_reverts(
        "UnauthorizedTransmitter", submit_report, as_outsider, rep, proof.proof_bytes,
        proof.instances, sigs,
    )  # fmt: skip
    assert err.args_ == (outsider.eth.default_account,)
    stack.w3.eth.wait_for_transaction_receipt(
        stack.oracle.functions.setPermissionless(True).transact()
    )
    submit_report(as_outsider, rep, proof.proof_bytes, proof.instances, sigs)
    assert stack.oracle.functions.latestRoundId(feed_id("ETH")).call() == 1 << 8


def test_on_chain_zone_rule_equals_the_evaluation_twin(world: World) -> None:
    """`RiskOracle.zoneOf` and `models.evaluation.traffic_light` agree around every boundary."""
    oracle = fresh_stack(world).oracle
    for days in range(0, 251):
        counts = {0, 1}
        for x in range(1, min(days, 12) + 1):
            if traffic_light(days, x) != traffic_light(days, x - 1):
                counts |= {x - 1, x}
        for x in sorted(c for c in counts if c <= days):
            zone = ZONES[oracle.functions.zoneOf(days, x).call()]
            assert zone == traffic_light(days, x), (days, x)


GOVERNANCE_DELAY = 2 * 86_400  # the production value the README recommends


def mine(w3: Web3, blocks: int = 1, seconds: int = 0) -> None:
    if seconds:
        w3.provider.make_request("evm_increaseTime", [seconds])
    for _ in range(blocks):
        w3.provider.make_request("evm_mine", [])


def test_RevertWhen_one_key_admin_publishes_within_the_governance_delay(world: World) -> None:
    """Issue 22: with the admin's only key, make its own key the sole attester, open the limits
    and publish a value of its choice two blocks later. With a governance delay every step is
    refused (custom errors) while the queued changes are public, and cancelled they never land."""
    honest, attack = world.proofs[0], world.proofs[1]
    layout = world.build.layout
    fixed = [layout.fixed_point_outputs(p.instances)[0] for p in (honest, attack)]
    assert fixed[0] != fixed[1]  # the attacker's value differs from the honest one
    # ETH's bounds admit exactly the honest proof's values (one feed unit either side).
    units = [expected(world, honest, 0, j) for j in range(2)]
    tight = tuple(
        OutputSpec(name, units[j] - 1, units[j] + 1, 2 * WIDE)
        for j, name in enumerate(("vol", "var99"))
    )
    stack = deploy_oracle(
        world.w3,
        world.verifier.address,
        layout,
        [feed("ETH", outputs=tight), feed("BTC")],
        attesters=[a.address for a in ATTESTERS],
        threshold=2,
        governance_delay=GOVERNANCE_DELAY,
    )
    register_model(stack, ModelSpec(world.build.model_hash))  # no report yet: immediate
    now = block_timestamp(world.w3)
    publish(stack, honest, [now - 60, now - 60])  # the first report ends the initial setup

    own = Account.create()
    take_over = set_attesters_call(stack, [own.address], 1)
    err = assert_reverts("ChangeNotQueued", set_attesters, stack, [own.address], 1)
    assert err.args_ == (keccak(calldata(stack.oracle, take_over)),)
    queued = [
        queue_change(stack, take_over),
        queue_change(stack, configure_feed_call(stack, feed("ETH"))),
    ]
    for change in queued:  # visible: the view and the event with the calldata
        assert change.eta == block_timestamp(world.w3) + GOVERNANCE_DELAY
        assert change_status(stack.oracle, change.id) == (change.eta, "queued")
    logged = stack.oracle.events.ChangeQueued().get_logs(from_block=0)
    assert {(bytes(e["args"]["id"]), bytes(e["args"]["call"])) for e in logged} >= {
        (c.id, c.call) for c in queued
    }

    mine(world.w3, blocks=2)
    for change in queued:
        err = assert_reverts("ChangeNotReady", execute_change, stack, change)
        assert err.args_[:2] == (change.id, change.eta)
    rep = report(stack, [now - 30, 0], feeds=("ETH", None))
    own_sig = [sign(own, stack, rep, attack.instances[0])]
    err = assert_reverts(
        "UnknownSigner", submit_report, stack, rep, attack.proof_bytes, attack.instances, own_sig
    )
    assert err.args_ == (own.address,)
    # Even a real quorum's signatures do not get the attacker's value past the limits in force.
    assert_reverts(
        "AnswerOutOfBounds", submit_report, stack, rep, attack.proof_bytes, attack.instances,
        attest(stack, rep, attack),
    )  # fmt: skip

    for change in queued:
        cancel_change(stack, change.id)
        assert change_status(stack.oracle, change.id) == (change.eta, "cancelled")
    mine(world.w3, seconds=GOVERNANCE_DELAY)
    for change in queued:
        assert_reverts("ChangeNotQueued", execute_change, stack, change)
    assert not stack.oracle.functions.isAttester(own.address).call()
    assert latest_round_data(stack.adapters["ETH/var99"]).answer == units[1]

    # A change nobody cancels runs after its delay, through the same helpers.
    newcomer = Account.create().address
    change = queue_change(stack, set_transmitter_call(stack, newcomer, True))
    mine(world.w3, seconds=GOVERNANCE_DELAY)
    execute_change(stack, change)
    assert stack.oracle.functions.isTransmitter(newcomer).call()
    assert change_status(stack.oracle, change.id)[1] == "executed"
    # The emergency stop stays immediate.
    retire_model(stack, world.build.model_hash)
    assert not stack.oracle.functions.isActive(world.build.model_hash.to_bytes(32, "big")).call()


def test_deploy_registers_every_adapter_it_deploys(world: World) -> None:
    stack = fresh_stack(world, register=False)
    for name in FEEDS:
        for j, out in enumerate(("vol", "var99")):
            registered = stack.oracle.functions.adapterOf(feed_id(name), j).call()
            assert registered == stack.adapters[f"{name}/{out}"].address
    assert stack.oracle.functions.adapterOf(feed_id("SOL"), 0).call() == "0x" + "00" * 20
