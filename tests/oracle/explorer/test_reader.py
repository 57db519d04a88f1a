"""The explorer's data against what the chain's own views and the node's journal say."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from oracle.chain.contracts import feed_id
from oracle.errors import ChainError
from oracle.explorer.reader import ExplorerReader, units
from tests.oracle.explorer.conftest import FEEDS, ROUNDS, Published

pytestmark = pytest.mark.slow


def test_snapshot_matches_the_chain_and_the_journal(published: Published) -> None:
    snap = published.reader().snapshot()
    stack = published.stack

    assert [f.name for f in snap.feeds] == list(FEEDS)  # names from the journal
    for feed in snap.feeds:
        assert feed.round_id == stack.oracle.functions.latestRoundId(feed_id(feed.name)).call()
        assert len(feed.history) == ROUNDS
        for output in feed.outputs:
            adapter = stack.adapters[f"{feed.name}/out{output.index}"]
            assert output.adapter == adapter.address  # from the registry (adapterOf)
            # the oracle's own latest round (raw units; an adapter may publish other units)
            number, round_id, observed_at, accepted_at, answers = stack.oracle.functions.feedRound(
                feed_id(feed.name), 0
            ).call()
            assert feed.feed_round == number and feed.round_id == round_id
            assert output.answer_raw == answers[output.index]
            assert output.answer == units(answers[output.index], feed.decimals)
            assert feed.observed_at == observed_at  # the bar's close
            assert feed.accepted_at == accepted_at  # the block that accepted it
            assert number == ROUNDS  # every report had every feed
            answer = answers[output.index]
            assert feed.history[-1].answers[output.index] == answer / 10**feed.decimals

    by_tx = {r.tx_hash: r for r in snap.reports}
    assert len(snap.reports) == ROUNDS == len(published.confirmed)
    for rnd in published.confirmed:
        report = by_tx[rnd.tx_hash]
        assert report.gas_used == rnd.gas_used and report.block == rnd.block_number
        assert sorted(report.signers) == sorted(rnd.attestation["signers"])
        assert report.signers_match
        assert report.input_commitment == f"0x{int(rnd.attestation['commitment']):064x}"
        assert report.proof_bytes == len(bytes.fromhex(rnd.proof_hex or "")) > 0
        assert report.feeds == list(FEEDS)
        assert report.model_hash == published.active_model

    models = {m.hash: m for m in snap.models}
    active, retired = models[published.active_model], models[published.retired_model]
    assert (active.status, active.reports, active.dp_epsilon) == ("active", ROUNDS, 2.5)
    assert (active.record_epsilon, active.dp_delta) == (7.8, 1e-5)  # from ModelRegistered
    assert active.manifest is not None and active.manifest.metrics_hash_matches
    assert active.manifest.aggregation == "trimmed-mean" and len(active.manifest.participants) == 3
    assert (retired.status, retired.reports, retired.manifest) == ("retired", 0, None)
    assert retired.retired_at is not None

    [rejection] = snap.rejections
    assert rejection.round == published.rejected.id and rejection.state == "reverted"
    assert rejection.error_name == "UnauthorizedTransmitter"
    assert published.transmitter in rejection.error_args


def test_bad_input_gets_a_specific_error(published: Published, tmp_path: Path) -> None:
    with pytest.raises(ChainError, match="not an address"):
        ExplorerReader(published.w3, "0x1234")
    with pytest.raises(ChainError, match="no contract"):
        ExplorerReader(published.w3, "0x" + "11" * 20)
    with pytest.raises(ChainError, match="not a RiskFeedAdapter"):
        published.reader(adapters=[published.stack.oracle.address]).snapshot()


def test_cli_writes_a_static_snapshot(published: Published, tmp_path: Path) -> None:
    from oracle.cli import app

    out = tmp_path / "site"
    result = CliRunner().invoke(
        app,
        ["explorer", "--rpc-url", published.anvil.rpc_url, "--oracle",
         published.stack.oracle.address, "--journal", str(published.journal), "--snapshot",
         str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("index.html", "reports.html", "models.html", "health.html"):
        assert (out / name).is_file()
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert "UnauthorizedTransmitter" in (out / "health.html").read_text()
    bad = CliRunner().invoke(
        app, ["explorer", "--rpc-url", published.anvil.rpc_url, "--oracle", "nope"]
    )
    assert bad.exit_code == 1 and "not an address" in bad.output
