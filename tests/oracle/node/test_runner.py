"""The node loop against a real RiskOracle on anvil with real EZKL proofs (in-process)."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.data import load_ohlc_csv
from models.features import HISTORY_BARS, latest_features
from models.identity import model_hash
from oracle.attest.local import LocalAttesters
from oracle.chain.contracts import retire_model
from oracle.node import journal as J
from oracle.node.config import load_config, with_overrides
from oracle.node.errors import ConfigError
from oracle.node.journal import Journal
from oracle.node.keys import SigningKey
from oracle.node.runner import Node
from oracle.node.sources import CsvDirectorySource
from tests.oracle.node.conftest import FEEDS, UNREGISTERED, Deployment, node_model, onchain_rounds
from tests.oracle.node.market import append_candle

pytestmark = pytest.mark.slow


def make_node(d: Deployment, **overrides: object) -> Node:
    config = with_overrides(load_config(d.config, env={}), **overrides)
    source = CsvDirectorySource(config.source_dir, calendar=config.calendar)
    return Node(config, SigningKey(d.key), source, Journal(config.journal))


def test_publishes_every_feed_once_per_observation(deployment: Deployment) -> None:
    node = make_node(deployment)
    first = node.tick()
    assert first.round is not None and first.round.state == J.CONFIRMED, first
    assert onchain_rounds(deployment) == [1, 1]
    # The proved forecast is what the contract stores (8 decimals, truncated).
    for k, feed in enumerate(FEEDS):
        value = node.publisher.latest(feed)
        assert value is not None
        assert value.answers == pytest.approx(tuple(first.round.forecasts[k]), abs=1e-3)
        assert value.observed_at == first.round.observed_at[k]
    attestation = first.round.attestation or {}
    assert len(attestation["signers"]) == 2
    assert set(attestation["signers"]) <= set(deployment.attesters.addresses)

    again = node.tick()  # same files: the observation already has a round
    assert again.round is None and onchain_rounds(deployment) == [1, 1]

    append_candle(deployment.data_dir / f"{FEEDS[0]}.csv", seed=1)
    second = node.tick()
    assert second.round is not None and second.round.state == J.CONFIRMED
    assert second.round.slots == [FEEDS[0], None]  # BTC has no newer bar: not in the round
    assert onchain_rounds(deployment) == [2, 1]
    assert [r.nonce for r in node.journal.rounds(J.CONFIRMED)] == [0, 1]
    assert node.w3.eth.get_transaction_count(deployment.address) == 2
    assert node.metrics.get("proofcast_rounds_total", state="confirmed") == 2
    assert node.metrics.get("proofcast_submit_gas") > 0


def test_not_due_within_heartbeat_and_threshold(deployment: Deployment) -> None:
    node = make_node(deployment)
    assert node.tick().round.state == J.CONFIRMED
    quiet = tuple(
        type(f)(f.name, f.file, heartbeat_seconds=86_400, deviation_bps=1e9)
        for f in node.config.feeds
    )
    node = make_node(deployment, feeds=quiet)
    append_candle(deployment.data_dir / f"{FEEDS[1]}.csv", seed=2)
    result = node.tick()
    assert result.round is None and not any(d.due for d in result.decisions)
    reasons = {d.feed: d.reason for d in result.decisions}
    assert "no newer candle" in reasons[FEEDS[0]] and "within" in reasons[FEEDS[1]]
    assert onchain_rounds(deployment) == [1, 1]


def test_bad_data_leaves_that_feed_out_and_the_other_publishes(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    node = make_node(deployment)
    append_candle(deployment.data_dir / f"{FEEDS[1]}.csv", seed=0, row="2099-01-01,1,2,0.5,nan,1\n")
    with caplog.at_level(logging.ERROR, logger="proofcast.node"):
        result = node.tick()
    assert result.round is not None and result.round.state == J.CONFIRMED
    assert result.round.slots == [FEEDS[0], None]
    assert f"feed {FEEDS[1]} left out" in caplog.text and "BTC-USD.csv" in caplog.text
    assert node.metrics.get("proofcast_errors_total", kind="data") == 1
    assert onchain_rounds(deployment) == [1, 0]


def test_one_attester_offline_still_publishes_two_do_not(deployment: Deployment) -> None:
    node = make_node(deployment)
    deployment.attesters.stop(0)
    first = node.tick()
    assert first.round is not None and first.round.state == J.CONFIRMED
    assert deployment.attesters.addresses[0] not in first.round.attestation["signers"]
    deployment.attesters.stop(1)
    append_candle(deployment.data_dir / f"{FEEDS[0]}.csv", seed=3)
    append_candle(deployment.data_dir / f"{FEEDS[1]}.csv", seed=4)
    second = node.tick()
    assert second.round is not None and second.round.state == J.ABANDONED
    assert "2 of 3 attester observations agree" in (second.round.error or "")
    assert "unreachable" in (second.round.error or "")
    assert second.round.proof_hex is None  # nothing proved without the attestation
    assert onchain_rounds(deployment) == [1, 1]


def test_attesters_on_another_circuit_are_not_asked_and_named(deployment: Deployment) -> None:
    """The same attester keys and data, but configured for input scale 7 (the README's old
    example) where the node's circuit says 13: they still observe, but the node does not ask
    them to sign, and the round's error names each URL and both values."""
    first = deployment.attesters.checkers[0].policy
    wrong = replace(first, input_scale=first.input_scale - 6)
    dirs = [deployment.data_dir] * len(deployment.attesters.keys)
    with LocalAttesters(dirs, wrong, FEEDS, keys=deployment.attesters.keys) as others:
        node = make_node(deployment, attesters=tuple(others.urls))
        result = node.tick()
    assert result.round is not None and result.round.state == J.ABANDONED
    error = result.round.error or ""
    for url in others.urls:
        assert (
            f"circuit mismatch: attester {url} has input_scale {wrong.input_scale} "
            f"(this node's circuit: {first.input_scale}); not asked to sign"
        ) in error
    assert "CommitmentMismatch" not in error and result.round.proof_hex is None
    assert onchain_rounds(deployment) == [0, 0]


def test_the_report_carries_the_attesters_values_not_the_nodes(deployment: Deployment) -> None:
    """The node's copy of BTC disagrees with every attester's: the report is built from the
    attesters' observations (the canonical rule), so the node's copy has no say."""
    node_dir = deployment.data_dir.parent / "node-data"
    shutil.copytree(deployment.data_dir, node_dir)
    path = node_dir / f"{FEEDS[1]}.csv"
    lines = path.read_text().splitlines()
    d, o, h, lo, c, v = lines[-2].split(",")
    lines[-2] = ",".join([d, o, f"{float(h) * 1.01:.4f}", lo, c, v])  # +100 bps on one high
    path.write_text("\n".join(lines) + "\n")
    node = make_node(deployment, source_dir=node_dir)
    result = node.tick()
    assert result.round is not None and result.round.state == J.CONFIRMED
    assert result.round.slots == list(FEEDS)
    attesters = latest_features(recent_bars(deployment.data_dir, FEEDS[1]))
    own = latest_features(recent_bars(node_dir, FEEDS[1]))
    assert np.allclose(result.round.features[1], attesters) and not np.allclose(own, attesters)
    assert len((result.round.attestation or {})["observers"]) >= 3
    assert onchain_rounds(deployment) == [1, 1]


def test_a_feed_the_attesters_refuse_is_left_out(deployment: Deployment) -> None:
    """The attesters' BTC has a tenfold tick the node's copy lacks: the canonical bars hold it,
    every attester refuses BTC (ImplausibleMove), BTC is dropped and ETH publishes."""
    node_dir = deployment.data_dir.parent / "node-data"
    shutil.copytree(deployment.data_dir, node_dir)
    path = deployment.data_dir / f"{FEEDS[1]}.csv"
    last = path.read_text().strip().splitlines()[-1].split(",")
    day = dt.date.fromisoformat(last[0]) + dt.timedelta(days=1)
    p = float(last[4])
    append_candle(path, 0, f"{day},{p},{p * 10},{p},{p * 10},1000\n")
    node = make_node(deployment, source_dir=node_dir)
    result = node.tick()
    assert result.round is not None and result.round.state == J.CONFIRMED
    assert result.round.slots == [FEEDS[0], None]
    assert onchain_rounds(deployment) == [1, 0]
    assert node.metrics.get("proofcast_errors_total", kind="attest") == 1


def recent_bars(directory: Path, feed: str):
    """Every bar the features use (all of these young test feeds)."""
    series = load_ohlc_csv(directory / f"{feed}.csv", calendar="daily")
    return series.slice(max(0, len(series) - HISTORY_BARS))


def test_reverted_submission_is_decoded_and_recorded(deployment: Deployment) -> None:
    node = make_node(deployment, model=UNREGISTERED)  # compiled on the keys, never registered
    result = node.tick()
    rnd = result.round
    assert rnd is not None and rnd.state == J.REVERTED
    assert rnd.error is not None and rnd.error.startswith("ModelNotActive(0x")
    assert rnd.nonce is None  # rejected at preflight: no transaction, no nonce consumed
    assert node.w3.eth.get_transaction_count(deployment.address) == 0
    assert onchain_rounds(deployment) == [0, 0]
    assert node.metrics.get("proofcast_errors_total", kind="revert") == 1


def test_node_refuses_wrong_chain_and_missing_model(deployment: Deployment) -> None:
    with pytest.raises(ConfigError, match=r"node\.chain_id: RPC .* is chain 31337, config says 1"):
        make_node(deployment, chain_id=1)
    with pytest.raises(ConfigError, match=r"node\.model: no compiled weights"):
        make_node(deployment, model="nope")


def test_missing_artifacts_are_refused(deployment: Deployment, tmp_path: Path) -> None:
    from circuits.manifest import ArtifactMismatchError

    with pytest.raises(ArtifactMismatchError, match="no artifact manifest"):
        make_node(deployment, circuit_dir=tmp_path / "empty")


def test_mined_revert_is_decoded_and_its_nonce_accounted(deployment: Deployment) -> None:
    node = make_node(deployment)
    confirm = node._confirm

    def retire_then_confirm(rnd: J.Round) -> J.Round:
        # Between signing (preflight passed) and broadcast, governance retires the model.
        retire_model(deployment.stack, model_hash(node_model(0)))
        return confirm(rnd)

    node._confirm = retire_then_confirm  # type: ignore[method-assign]
    rnd = node.tick().round
    assert rnd is not None and rnd.state == J.REVERTED
    assert rnd.error is not None and rnd.error.startswith("ModelNotActive(0x")
    receipt = deployment.stack.w3.eth.get_transaction_receipt(rnd.tx_hash)
    assert receipt["status"] == 0 and rnd.block_number == receipt["blockNumber"]
    assert rnd.nonce == 0 and rnd.gas_used == receipt["gasUsed"]
    assert deployment.stack.w3.eth.get_transaction_count(deployment.address) == 1  # no gap
    assert onchain_rounds(deployment) == [0, 0]


def test_each_feed_carries_its_own_observation_time(deployment: Deployment) -> None:
    """BTC's data ends three days before ETH's: its round says so (the batch never makes a feed
    look fresher than its data)."""
    path = deployment.data_dir / f"{FEEDS[1]}.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n")
    node = make_node(deployment)
    rnd = node.tick().round
    assert rnd is not None and rnd.state == J.CONFIRMED
    eth, btc = (node.publisher.latest(f) for f in FEEDS)
    assert eth is not None and btc is not None
    assert eth.observed_at - btc.observed_at == 3 * 86_400
    assert [eth.observed_at, btc.observed_at] == rnd.slot_times


def test_an_implausible_tick_leaves_the_feed_out_with_a_specific_error(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    path = deployment.data_dir / f"{FEEDS[0]}.csv"
    last = path.read_text().strip().splitlines()[-1].split(",")
    day = dt.date.fromisoformat(last[0]) + dt.timedelta(days=1)
    p = float(last[4])
    append_candle(path, 0, f"{day},{p},{p * 10},{p},{p * 10},1000\n")  # one 10x tick
    node = make_node(deployment)
    with caplog.at_level(logging.ERROR, logger="proofcast.node"):
        rnd = node.tick().round
    assert rnd is not None and rnd.state == J.CONFIRMED and rnd.slots == [None, FEEDS[1]]
    assert f"feed {FEEDS[0]} left out" in caplog.text and "implausible" in caplog.text
    assert f"bar {day}: move" in caplog.text and "sigmas" in caplog.text
    assert onchain_rounds(deployment) == [0, 1]
