"""The node's attester client against real attester HTTP servers, both phases: signed
observations (vetted locally), the canonical proposal built from them, parallel collection,
threshold, refusals, an offline attester, and local vetting of every signature."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from models.features import HISTORY_BARS
from oracle.attest.checks import CheckPolicy
from oracle.attest.client import AttesterClient
from oracle.attest.local import LocalAttesters, attester_keys
from oracle.attest.report import canonical_proposal, recover_signer
from oracle.attest.server import BackgroundServer, create_app
from oracle.node.keys import SigningKey
from tests.oracle.attest.test_checks import CHAIN, FEEDS, ORACLE, SCALE, checker, observation
from tests.oracle.node.market import write_candles

POLICY = CheckPolicy(CHAIN, ORACLE, slots=2, input_scale=SCALE)


@pytest.fixture
def dirs(tmp_path: Path) -> list[Path]:
    """Three attesters' copies of the same data; the third's last ETH bar differs by 50 bps."""
    out = []
    for i in range(3):
        d = tmp_path / f"a{i}"
        d.mkdir()
        for seed, name in enumerate(FEEDS):
            write_candles(d / f"{name}.csv", dt.date(2026, 1, 30), days=40, seed=seed)
        out.append(d)
    path = out[2] / "ETH-USD.csv"
    lines = path.read_text().splitlines()
    d, o, h, lo, c, v = lines[-1].split(",")
    lines[-1] = ",".join([d, o, f"{float(h) * 1.005:.4f}", lo, c, v])
    path.write_text("\n".join(lines) + "\n")
    return out


def proposal_from(observers: list[tuple[SigningKey, Path]]):
    """The canonical proposal of each (key, data directory)'s observation of FEEDS."""
    observations = [observation(key, d) for key, d in observers]
    return canonical_proposal(CHAIN, ORACLE, 1, SCALE, FEEDS, observations, output_scale=13)[0]


def test_the_two_phases_over_http(dirs: list[Path]) -> None:
    with LocalAttesters(dirs, POLICY, FEEDS) as attesters:
        client = AttesterClient(attesters.urls, timeout=5)
        observed = client.observe(CHAIN, ORACLE, FEEDS, HISTORY_BARS, 3, attesters.addresses)
        assert [o.signer for o in observed.valid] == attesters.addresses
        assert all(line.endswith("observed ETH-USD, BTC-USD") for line in observed.describe())
        proposal = canonical_proposal(
            CHAIN, ORACLE, 1, SCALE, FEEDS, observed.valid, output_scale=13
        )[0]
        outcome = client.collect(proposal, 2, attesters.addresses)
        assert outcome.reached and set(outcome.signers) == set(attesters.addresses[:2])
        # the third's data is 50 bps off on one bar: outvoted, and it refuses by tolerance
        assert outcome.replies[2].refusals[0].code == "BarMismatch"
        # an attester outside the set is not counted; a foreign oracle is refused by name
        observed = client.observe(CHAIN, ORACLE, FEEDS, HISTORY_BARS, 3, attesters.addresses[:2])
        assert len(observed.valid) == 2 and "not in the oracle's attester set" in (
            observed.replies[2].error or ""
        )
        other = client.observe(CHAIN, "0x" + "11" * 20, FEEDS, HISTORY_BARS, 3, attesters.addresses)
        assert not other.valid
        assert all(r.refusals[0].code == "WrongDomain" for r in other.replies)
        unknown = client.observe(CHAIN, ORACLE, ["SOL-USD"], HISTORY_BARS, 3, attesters.addresses)
        assert {r.refusals[0].code for r in unknown.replies} == {"UnknownFeed"}
        wrong = client.observe(CHAIN, ORACLE, FEEDS, HISTORY_BARS + 1, 3, attesters.addresses)
        assert {r.refusals[0].code for r in wrong.replies} == {"BadBars"}


def test_threshold_reached_despite_a_refusing_and_an_offline_attester(dirs: list[Path]) -> None:
    with LocalAttesters(dirs, POLICY, FEEDS) as attesters:
        proposal = proposal_from(list(zip(attesters.keys, dirs, strict=True)))
        client = AttesterClient(attesters.urls, timeout=5)
        outcome = client.collect(proposal, 2, attesters.addresses)
        assert outcome.reached and len(outcome.signatures) == 2
        assert set(outcome.signers) == set(attesters.addresses[:2])
        for sig, signer in zip(outcome.signatures, outcome.signers, strict=True):
            assert (
                recover_signer(CHAIN, ORACLE, proposal.report, proposal.commitment, sig) == signer
            )
        refusal = outcome.replies[2].refusals[0]
        assert (refusal.code, refusal.feed) == ("BarMismatch", "ETH-USD")
        assert "49.8 bps" in refusal.detail and "high" in refusal.detail
        assert outcome.refused_feeds() == {"ETH-USD"}

        attesters.stop(1)  # one honest attester goes offline: 1 of 2 signatures only
        outcome = client.collect(proposal, 2, attesters.addresses)
        assert not outcome.reached and len(outcome.signatures) == 1
        assert "unreachable" in (outcome.replies[1].error or "")
        assert any("refused" in line for line in outcome.describe())


def test_signatures_from_outside_the_attester_set_do_not_count(dirs: list[Path]) -> None:
    with LocalAttesters(dirs[:2], POLICY, FEEDS, threshold=1) as attesters:
        proposal = proposal_from(list(zip(attesters.keys, dirs, strict=False)))
        client = AttesterClient(attesters.urls, timeout=5)
        outcome = client.collect(proposal, 2, [attesters.addresses[0], "0x" + "22" * 20])
        assert not outcome.reached
        assert "not in the oracle's attester set" in (outcome.replies[1].error or "")
        # the same key behind two endpoints counts once
        key = attester_keys(1)
        own = checker(dirs[0], None, attesters=(key[0].address,), threshold=1)
        proposal = proposal_from([(key[0], dirs[0])])
        twice = [BackgroundServer(create_app(own, key[0])) for _ in range(2)]
        with twice[0], twice[1]:
            outcome = AttesterClient([s.url for s in twice], timeout=5).collect(
                proposal, 2, [key[0].address]
            )
        assert len(outcome.signatures) == 1 and not outcome.reached
        assert any("same signer" in (r.error or "") for r in outcome.replies)


def test_no_attester_reachable_is_an_outcome_not_a_crash(tmp_path: Path, dirs: list[Path]) -> None:
    shutil.rmtree(tmp_path / "a0")
    outcome = AttesterClient(["http://127.0.0.1:9"], timeout=2).collect(
        proposal_from([(attester_keys(1)[0], dirs[1])]), 1, []
    )
    assert not outcome.reached and "unreachable" in (outcome.replies[0].error or "")
