"""A transmitter that tries to choose the published value, against real attesters, real EZKL
proofs and RiskOracle on anvil. Each attack ends in the attesters' refusal or the oracle's
custom error, and the feeds keep no value. The transmitter attaches the attesters' real signed
observations (it gathers them like the node does) but proposes bars of its own choice."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from circuits.pipeline import prove
from models.data import load_ohlc_csv
from models.features import HISTORY_BARS
from oracle.attest.client import AttesterClient
from oracle.attest.report import (
    bars_from_json,
    build_proposal,
    canonical_proposal,
    sign_report,
)
from oracle.chain.anvil import ANVIL_CHAIN_ID
from oracle.chain.contracts import OracleRevert, submit_report
from tests.oracle.node.conftest import FEEDS, Circuit, Deployment, onchain_rounds

pytestmark = pytest.mark.slow


def bars(d: Deployment, feed: str, end_offset: int = 0):
    """The bars the features use (all of these young test feeds) ending `end_offset` bars
    before the latest (0: the honest, latest ones)."""
    series = load_ohlc_csv(d.data_dir / f"{feed}.csv", calendar="daily")
    end = len(series) - end_offset
    return series.slice(max(0, end - HISTORY_BARS), end)


def observations(d: Deployment):
    """Every attester's signed observation of FEEDS (phase 1, as the node gathers them)."""
    client = AttesterClient(d.attesters.urls, timeout=10)
    observed = client.observe(ANVIL_CHAIN_ID, d.stack.oracle.address, FEEDS, HISTORY_BARS, 3,
                              d.attesters.addresses)  # fmt: skip
    assert len(observed.valid) == len(d.attesters.urls)
    return observed.valid


def proposal(d: Deployment, circuit: Circuit, slots):
    """The transmitter's own bars for `slots`, with the attesters' real observations attached."""
    chosen, features = build_proposal(
        ANVIL_CHAIN_ID,
        d.stack.oracle.address,
        1,
        circuit.build.input_scale,
        slots,
        output_scale=circuit.build.layout.output_scale,
    )
    return replace(chosen, observations=tuple(observations(d))), features


def canonical(d: Deployment, circuit: Circuit):
    return canonical_proposal(
        ANVIL_CHAIN_ID,
        d.stack.oracle.address,
        1,
        circuit.build.input_scale,
        FEEDS,
        observations(d),
        output_scale=circuit.build.layout.output_scale,
    )


def test_a_transmitter_cannot_choose_inputs_feeds_or_time(
    deployment: Deployment, circuit: Circuit
) -> None:
    d = deployment
    client = AttesterClient(d.attesters.urls, timeout=10)
    threshold = 2

    # 1. Cherry-picked history: real bars of both feeds, but from the calmest stretch 12 days ago.
    picked, picked_features = proposal(d, circuit, [(f, bars(d, f, 12)) for f in FEEDS])
    outcome = client.collect(picked, threshold, d.attesters.addresses)
    assert not outcome.reached and outcome.signatures == ()
    for reply in outcome.replies:
        assert {r.code for r in reply.refusals} == {"StaleObservation"}
        assert "my latest is" in reply.refusals[0].detail
    picked_proof = prove(circuit.artifacts, picked_features, "attack-picked")
    assert picked_proof.instances[0] == picked.commitment

    # ... and one attester colluding with the transmitter signs it anyway: f signatures only.
    colluder = d.attesters.keys[0]
    one = [sign_report(colluder.reveal(), ANVIL_CHAIN_ID, d.stack.oracle.address, picked.report,
                       picked.commitment)]  # fmt: skip
    submit = (d.stack, picked.report, picked_proof.proof_bytes, picked_proof.instances)
    with pytest.raises(OracleRevert) as err:
        submit_report(*submit, one)
    assert err.value.error == "NotEnoughSignatures"

    # 2. The canonical proposal gets threshold signatures ...
    honest, features = canonical(d, circuit)
    outcome = client.collect(honest, threshold, d.attesters.addresses)
    assert outcome.reached
    sigs = list(outcome.signatures)
    # ... which do not cover the cherry-picked proof, permuted feed ids, or a moved time.
    signed = honest.report
    moved = tuple(t - 80_000 for t in signed.observed_at)
    attempts = {
        "picked proof": (signed, picked_proof),
        "permuted feeds": (replace(signed, feed_ids=signed.feed_ids[::-1]), None),
        "moved time": (replace(signed, observed_at=moved), None),
    }
    honest_proof = prove(circuit.artifacts, np.asarray(features), "attack-honest")
    for name, (report, proof) in attempts.items():
        proof = proof or honest_proof
        with pytest.raises(OracleRevert) as err:
            submit_report(d.stack, report, proof.proof_bytes, proof.instances, sigs)
        assert err.value.error == "UnknownSigner", name
    assert onchain_rounds(d) == [0, 0]

    # 3. What the attesters signed, proved on exactly those features, is accepted.
    submit_report(d.stack, honest.report, honest_proof.proof_bytes, honest_proof.instances, sigs)
    assert onchain_rounds(d) == [1, 1]


def test_tolerance_shopping_is_not_canonical(deployment: Deployment, circuit: Circuit) -> None:
    """Issue 22's measured attack: every OHLC value moved by up to 9.99 bps, inside the 10 bps
    tolerance, to push the volatility up. Every attester refuses it as NotCanonical; the one
    colluding attester's signature is not enough; the canonical report is accepted."""
    d = deployment
    client = AttesterClient(d.attesters.urls, timeout=10)
    honest, features = canonical(d, circuit)
    ranged = []
    for k, f in enumerate(FEEDS):
        b = dict(honest.bars[k])  # widen every day's range by 9.99 bps each side
        b["high"] = [v * (1 + 9.99e-4) for v in b["high"]]
        b["low"] = [v * (1 - 9.99e-4) for v in b["low"]]
        ranged.append((f, bars_from_json(f, b)))
    shopped, shopped_features = build_proposal(
        ANVIL_CHAIN_ID, d.stack.oracle.address, 1, circuit.build.input_scale, ranged,
        output_scale=circuit.build.layout.output_scale,
    )  # fmt: skip
    shopped = replace(shopped, observations=honest.observations)
    assert not np.allclose(shopped_features, features)
    outcome = client.collect(shopped, 2, d.attesters.addresses)
    assert not outcome.reached and outcome.signatures == ()
    for reply in outcome.replies:
        assert {r.code for r in reply.refusals} == {"NotCanonical"}, reply.describe()
        assert "9.99 bps off" in reply.refusals[0].detail
    # one attester colludes: its signature alone does not publish
    colluder = d.attesters.keys[0]
    one = [sign_report(colluder.reveal(), ANVIL_CHAIN_ID, d.stack.oracle.address,
                       shopped.report, shopped.commitment)]  # fmt: skip
    shopped_proof = prove(circuit.artifacts, np.asarray(shopped_features), "attack-shopped")
    with pytest.raises(OracleRevert) as err:
        submit_report(d.stack, shopped.report, shopped_proof.proof_bytes,
                      shopped_proof.instances, one)  # fmt: skip
    assert err.value.error == "NotEnoughSignatures"
    # the canonical report, proved on the canonical features, is accepted
    outcome = client.collect(honest, 2, d.attesters.addresses)
    assert outcome.reached
    proof = prove(circuit.artifacts, np.asarray(features), "attack-canonical")
    assert proof.instances[0] == honest.commitment
    submit_report(d.stack, honest.report, proof.proof_bytes, proof.instances,
                  list(outcome.signatures))  # fmt: skip
    assert onchain_rounds(d) == [1, 1]
