"""Kill the node (a real `proofcast node run` process) after the attesters signed, between
prove and submit, between signing and broadcasting, and between broadcasting and confirmation;
restart it and check the chain and the journal: one on-chain round per observation, no lost
round, no nonce gap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.node import journal as J
from oracle.node.journal import Journal
from oracle.node.runner import CRASH_ENV
from tests.oracle.node.conftest import Deployment, onchain_rounds

pytestmark = pytest.mark.slow

PROOFCAST = str(Path(sys.executable).parent / "proofcast")


def run_node(d: Deployment, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """One `proofcast node run --once` with the key in the environment (never an argument)."""
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    env["PROOFCAST_PRIVATE_KEY"] = d.key
    if crash_at:
        env[CRASH_ENV] = crash_at
    proc = subprocess.run(
        [PROOFCAST, "node", "run", "--config", str(d.config), "--once", "--json-logs"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    key_digits = d.key.removeprefix("0x")
    assert key_digits not in proc.stdout and key_digits not in proc.stderr
    return proc


def chain_state(d: Deployment) -> tuple[list[int], int]:
    """(rounds per feed, transactions the transmitter has mined)."""
    return onchain_rounds(d), d.stack.w3.eth.get_transaction_count(d.address)


@pytest.mark.parametrize(
    ("crash_at", "left_in", "mined_before_restart"),
    [
        ("after_attest", J.ATTESTED, False),  # signatures journaled, nothing proved
        ("after_prove", J.PROVEN, False),  # proof journaled, nothing signed
        ("after_sign", J.SUBMITTED, False),  # signed tx journaled, never broadcast
        ("after_submit", J.SUBMITTED, True),  # broadcast (anvil mines at once), not confirmed
    ],
)
def test_killed_node_finishes_the_round_exactly_once(
    deployment: Deployment, crash_at: str, left_in: str, mined_before_restart: bool
) -> None:
    crashed = run_node(deployment, crash_at)
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    with Journal(deployment.journal) as journal:
        (rnd,) = journal.rounds()
    assert rnd.state == left_in
    assert chain_state(deployment) == (([1, 1], 1) if mined_before_restart else ([0, 0], 0))

    restarted = run_node(deployment)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert f"recovering round {rnd.id} left in state '{left_in}'" in restarted.stderr
    with Journal(deployment.journal) as journal:
        (done,) = journal.rounds()  # the same observation did not open a second round
    assert done.id == rnd.id and done.state == J.CONFIRMED
    assert done.nonce == 0  # the first and only transaction of this transmitter
    if left_in == J.SUBMITTED:
        assert done.tx_hash == journal_hash(deployment, rnd)  # same signed tx, re-broadcast
    assert chain_state(deployment) == ([1, 1], 1)  # one round per feed, no nonce gap

    if mined_before_restart:
        third = run_node(deployment)  # nothing new to publish: nothing is sent
        assert third.returncode == 0 and chain_state(deployment) == ([1, 1], 1)


def journal_hash(d: Deployment, rnd: J.Round) -> str | None:
    receipt = d.stack.w3.eth.get_transaction_receipt(rnd.tx_hash)
    assert receipt["status"] == 1
    return "0x" + bytes(receipt["transactionHash"]).hex()
