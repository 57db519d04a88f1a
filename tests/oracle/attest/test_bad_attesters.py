"""The node's attester client against misbehaving attesters (real HTTP servers on loopback), in
both phases: every hostile reply becomes that attester's error, never a crash, the honest
attesters' observations make the canonical report (a member's lie is outvoted by the median)
and their signatures still reach the threshold."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from models.features import HISTORY_BARS
from oracle.attest.client import AttesterClient
from oracle.attest.local import LocalAttesters, attester_keys
from oracle.attest.report import canonical_proposal
from tests.oracle.attest.bad_attesters import BEHAVIOURS, OBSERVE_BEHAVIOURS, BadAttester
from tests.oracle.attest.test_checks import CHAIN, FEEDS, ORACLE, SCALE
from tests.oracle.attest.test_client import POLICY, proposal_from
from tests.oracle.node.market import write_candles


@pytest.fixture
def honest_dirs(tmp_path: Path) -> list[Path]:
    """Three honest attesters' copies of the same data."""
    out = []
    for i in range(3):
        out.append(tmp_path / f"a{i}")
        out[-1].mkdir()
        for seed, name in enumerate(FEEDS):
            write_candles(out[-1] / f"{name}.csv", dt.date(2026, 1, 30), days=40, seed=seed)
    return out


def test_every_bad_attester_behaviour_at_once_is_survived(honest_dirs: list[Path]) -> None:
    bad_keys = attester_keys(len(BEHAVIOURS))
    with ExitStack() as stack:
        honest = stack.enter_context(LocalAttesters(honest_dirs[:2], POLICY, FEEDS, threshold=1))
        proposal = proposal_from(list(zip(honest.keys, honest_dirs, strict=False)))
        bad = [
            stack.enter_context(BadAttester(behaviour, key))
            for behaviour, key in zip(BEHAVIOURS, bad_keys, strict=True)
        ]
        urls = [b.url for b in bad] + honest.urls
        allowed = [k.address for k in bad_keys] + honest.addresses
        client = AttesterClient(urls, timeout=3)
        # Every attester needed: each reply is awaited, so each bad one is judged.
        outcome = client.collect(proposal, len(urls), allowed)
        assert not outcome.reached
        assert set(outcome.signers) == set(honest.addresses)
        for attester, reply in zip(bad, outcome.replies, strict=False):
            line = reply.describe()
            assert not reply.signed, attester.behaviour
            assert BEHAVIOURS[attester.behaviour] in line, (attester.behaviour, line)
            assert "\n" not in line and len(line) < 600, (attester.behaviour, line[:300])
        # The oracle's threshold (2): the honest pair is enough, whatever the others send.
        outcome = client.collect(proposal, 2, allowed)
        assert outcome.reached and set(outcome.signers) == set(honest.addresses)


def test_every_bad_attester_behaviour_in_the_observe_phase(honest_dirs: list[Path]) -> None:
    """f + 1 = 2 signatures, 2f + 1 = 3 observations; the bad attesters hold keys of the set
    (other_report signs a 5 % lie about real data with its registered key)."""
    bad_keys = attester_keys(len(BEHAVIOURS))
    with ExitStack() as stack:
        honest_keys = attester_keys(3)
        members = tuple(k.address for k in (*bad_keys, *honest_keys))
        policy = replace(POLICY, attesters=members, threshold=2)
        honest = stack.enter_context(LocalAttesters(honest_dirs, policy, FEEDS, keys=honest_keys))
        bad = [
            stack.enter_context(BadAttester(behaviour, key, data=honest_dirs[0]))
            for behaviour, key in zip(BEHAVIOURS, bad_keys, strict=True)
        ]
        client = AttesterClient([b.url for b in bad] + honest.urls, timeout=3)
        observed = client.observe(CHAIN, ORACLE, FEEDS, HISTORY_BARS, len(client.urls), members)
        for attester, reply in zip(bad, observed.replies, strict=False):
            line = reply.describe()
            assert OBSERVE_BEHAVIOURS[attester.behaviour] in line, (attester.behaviour, line)
            assert "\n" not in line and len(line) < 600, (attester.behaviour, line[:300])
        signers = [o.signer for o in observed.valid]
        assert set(signers) == {*honest.addresses, bad_keys[6].address}  # + other_report's
        proposal = canonical_proposal(
            CHAIN, ORACLE, 1, SCALE, FEEDS, observed.valid, output_scale=13
        )[0]  # the lower median of four: honest whatever the liar says
        outcome = client.collect(proposal, 2, members)
        assert outcome.reached and set(outcome.signers) <= set(honest.addresses)


@pytest.mark.parametrize(
    ("status", "reply", "error"),
    [
        (200, [1, 2], "HTTP 200: reply is not a JSON object"),
        (200, {"signer": "0x" + "11" * 20, "signature": "0x1234"}, "signature is 2 bytes, not 65"),
        (200, {"signature": "zz"}, "signature is not hex"),
        (422, {"refusals": [1, "x"]}, "HTTP 422: {'refusals': [1, 'x']}"),
        (500, {"detail": "a\nb"}, "HTTP 500: {'detail': 'a\\\\nb'}"),
    ],
)
def test_malformed_replies_are_that_attesters_error(status: int, reply: object, error: str) -> None:
    got = AttesterClient._interpret("http://a", status, reply)
    assert not got.signed and not got.refusals and got.error == error
