"""An abandoned round no longer blocks its observation for ever: `proofcast node retry ROUND`
frees it (the round stays in the journal), a confirmed or unfinished round is refused."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from oracle.cli import app
from oracle.node import journal as J
from oracle.node.journal import Journal
from tests.oracle.node.conftest import write_config

runner = CliRunner()
OBS = {"ETH-USD": 1_700_000_000, "BTC-USD": 1_700_000_000}


def _open(journal: Journal) -> J.Round:
    rnd = journal.open_round(OBS, list(OBS), [True, True], [[0.1], [0.2]])
    assert rnd is not None
    return rnd


def test_node_retry_frees_an_abandoned_observation(tmp_path: Path) -> None:
    config = write_config(tmp_path / "node.toml", "http://127.0.0.1:9", "0x" + "00" * 20,
                          tmp_path / "circuit", attesters='["http://127.0.0.1:9"]')  # fmt: skip
    retry = ["node", "retry", "1", "-c", str(config)]
    missing = runner.invoke(app, retry)
    assert (
        missing.exit_code == 1 and f"no journal at {tmp_path / 'journal.sqlite'}" in missing.output
    )
    with Journal(tmp_path / "journal.sqlite") as journal:
        first = _open(journal)
        assert journal.open_round(OBS, list(OBS), [True, True], [[0.1], [0.2]]) is None
        unfinished = runner.invoke(app, retry)
        assert unfinished.exit_code == 1 and "round 1 is observed" in unfinished.output
        journal.advance(first.id, J.ABANDONED, error="attesters: 1 of 3 observations")
        assert journal.round_of(OBS) == journal.get(first.id)

    freed = runner.invoke(app, retry)
    assert freed.exit_code == 0, freed.output
    assert "round 1 (abandoned: attesters: 1 of 3 observations) released" in freed.output

    with Journal(tmp_path / "journal.sqlite") as journal:
        assert journal.round_of(OBS) is None
        second = _open(journal)  # the same observation, a new round
        assert second.id == 2 and journal.get(1).state == J.ABANDONED
        journal.advance(second.id, J.ATTESTED)
        journal.advance(second.id, J.PROVEN)
        journal.advance(second.id, J.SUBMITTED, nonce=0)
        journal.advance(second.id, J.CONFIRMED)
    confirmed = runner.invoke(app, ["node", "retry", "2", "-c", str(config)])
    assert confirmed.exit_code == 1 and "round 2 is confirmed" in confirmed.output
    with Journal(tmp_path / "journal.sqlite") as journal:
        assert journal.round_of(OBS) is not None and journal.round_of(OBS).id == 2  # type: ignore[union-attr]
