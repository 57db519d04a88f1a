"""The node keeps publishing while attesters misbehave in every way a peer can, all at once, in
both phases: nested JSON (the 400 KB that crashed `node run`, and nesting under the size cap), a
huge body, a slow answer, a wrong signature, garbage, a valid signature over another report (and
over a 5 % lie in the observe phase), and refusals made to forge log lines. Three honest
attesters give the 2f + 1 observations and reach the threshold (2); real EZKL proof, RiskOracle
on anvil. The attester lying and signing another report holds a key of the oracle's set."""

from __future__ import annotations

import logging
from contextlib import ExitStack

import pytest

from oracle.attest.local import attester_keys
from oracle.node import journal as J
from tests.oracle.attest.bad_attesters import BEHAVIOURS, OBSERVE_BEHAVIOURS, BadAttester
from tests.oracle.node.conftest import Deployment, onchain_rounds
from tests.oracle.node.test_runner import make_node

pytestmark = pytest.mark.slow


def test_the_node_publishes_while_every_bad_attester_behaviour_happens_at_once(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    honest = deployment.attesters
    others = iter(attester_keys(len(BEHAVIOURS)))
    with ExitStack() as stack:
        bad = [
            stack.enter_context(
                BadAttester(
                    b,
                    honest.keys[3] if b == "other_report" else next(others),
                    data=deployment.data_dir,
                )
            )
            for b in BEHAVIOURS
        ]
        urls = (*(b.url for b in bad), *honest.urls[:3])
        node = make_node(deployment, attesters=urls, attest_timeout_seconds=3.0)
        with caplog.at_level(logging.INFO, logger="proofcast.node"):
            result = node.tick()
        node.journal.close()
    assert result.round is not None and result.round.state == J.CONFIRMED, result
    assert onchain_rounds(deployment) == [1, 1]
    attestation = result.round.attestation or {}
    assert set(attestation["signers"]) <= set(honest.addresses[:3])
    liar = next(b for b in bad if b.behaviour == "other_report")
    assert set(attestation["observers"]) <= {*honest.addresses[:3], honest.keys[3].address}
    observed = [r.getMessage() for r in caplog.records if "observer" in r.getMessage()]
    for attester in bad:
        line = next(m for m in observed if attester.url in m)
        expected = (OBSERVE_BEHAVIOURS[attester.behaviour], "not awaited")
        assert any(e in line for e in expected), (attester.behaviour, line)
        assert "\n" not in line and len(line) < 700
    assert liar.url in " ".join(observed)
    outcomes = dict(zip(urls, attestation["outcomes"], strict=True))
    for attester in bad:
        line = outcomes[attester.url]
        # judged as the client test shows, unless it had not answered when the threshold was in
        expected = (BEHAVIOURS[attester.behaviour], "not awaited")
        assert any(e in line for e in expected), (attester.behaviour, line)
        assert not line.endswith(": signed") and "\n" not in line and len(line) < 600
    assert all("\n" not in r.getMessage() for r in caplog.records)
