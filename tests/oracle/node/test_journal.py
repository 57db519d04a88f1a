"""The round journal: legal transitions only, one round per observation, survives reopening."""

from pathlib import Path

import pytest

from oracle.node import journal as J
from oracle.node.errors import JournalError
from oracle.node.journal import Journal

OBS = {"ETH": 1_700_000_000, "BTC": 1_700_000_000}


def _open(journal: Journal, observed: dict[str, int] = OBS) -> J.Round:
    rnd = journal.open_round(observed, ["ETH", "BTC"], [True, False], [[0.1, 0.2], [0.3, 0.4]])
    assert rnd is not None
    return rnd


def test_round_walks_observed_attested_proven_submitted_confirmed(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        rnd = _open(journal)
        assert rnd.state == J.OBSERVED and rnd.due_feeds == ["ETH"]
        assert rnd.slots == ["ETH", None] and rnd.slot_times == [OBS["ETH"], 0]
        signed = {"config_version": 1, "commitment": "5", "signatures": ["00"], "signers": ["a"]}
        rnd = journal.advance(rnd.id, J.ATTESTED, attestation=signed, features=[[1.0], [0.0]])
        assert rnd.attestation == signed and rnd.features == [[1.0], [0.0]]
        rnd = journal.advance(rnd.id, J.PROVEN, proof_hex="ab", instances=["1", "2"])
        rnd = journal.advance(rnd.id, J.SUBMITTED, nonce=7, tx_hash="0x01", raw_tx="0x02")
        rnd = journal.advance(rnd.id, J.CONFIRMED, block_number=3, gas_used=400_000)
        assert (rnd.state, rnd.nonce, rnd.gas_used, rnd.instances) == (
            J.CONFIRMED,
            7,
            400_000,
            ["1", "2"],
        )
        assert journal.unfinished() == []
        assert journal.last_nonce() == 7


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], J.PROVEN),  # never proved without the attesters' signatures
        ([], J.SUBMITTED),  # observed -> submitted skips the proof
        ([], J.CONFIRMED),
        ([J.ATTESTED], J.SUBMITTED),
        ([J.ATTESTED, J.PROVEN], J.CONFIRMED),  # never confirmed without a journaled transaction
        ([J.ATTESTED, J.PROVEN, J.SUBMITTED, J.CONFIRMED], J.ABANDONED),  # terminal stays
        ([J.ABANDONED], J.PROVEN),
    ],
)
def test_illegal_transition_is_refused_and_state_kept(
    tmp_path: Path, path: list[str], illegal: str
) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        rnd = _open(journal)
        for state in path:
            rnd = journal.advance(rnd.id, state)
        with pytest.raises(JournalError, match=f"round {rnd.id} cannot go from"):
            journal.advance(rnd.id, illegal, error="x")
        after = journal.get(rnd.id)
        assert after.state == rnd.state and after.error is None


def test_one_round_per_observation(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        _open(journal)
        assert journal.has_observation(dict(reversed(list(OBS.items()))))  # order-independent
        assert journal.open_round(OBS, ["ETH", "BTC"], [True, True], [[0.0], [0.0]]) is None
        newer = {**OBS, "ETH": OBS["ETH"] + 86_400}
        assert _open(journal, newer).id == 2


def test_unfinished_round_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        rnd = _open(journal)
        journal.advance(rnd.id, J.ATTESTED)
        journal.advance(rnd.id, J.PROVEN, proof_hex="ab")
    with Journal(path) as journal:
        (left,) = journal.unfinished()
        assert (left.id, left.state, left.proof_hex) == (rnd.id, J.PROVEN, "ab")


def test_corrupt_journal_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match=str(path)):
        Journal(path)
