"""A provider's local receipt: its own accounting of rounds, rows and record-level epsilon."""

from __future__ import annotations

import pytest

from federated.privacy import sampled_gaussian_privacy_spent
from federated.receipt import ReceiptError, load_receipt, record_model, record_round, render
from federated.task import RecordDP

DP = RecordDP(4.0, 0.5, 1.0)


def _round(path, rnd, *, steps=2, dp=DP, trained_from="0xa"):
    return record_round(
        path,
        provider="acme",
        server_round=rnd,
        rows=120,
        steps=steps,
        trained_from=trained_from,
        record_dp=dp,
        delta=1e-5,
    )


def test_epsilon_composes_over_the_rounds_joined_and_a_retried_round_counts_once(tmp_path):
    path = tmp_path / "acme.json"
    _round(path, 1, trained_from="0x01")
    _round(path, 3, trained_from="0x03")  # skipped round 2: only rounds joined count
    _round(path, 3, trained_from="0x03")  # a retried round replaces its entry
    receipt = load_receipt(path)
    assert [r.round for r in receipt.rounds] == [1, 3]
    assert receipt.epsilon == pytest.approx(
        sampled_gaussian_privacy_spent(4.0, 1.0, 4, 1e-5).epsilon
    )
    assert receipt.rounds[1].epsilon_round == pytest.approx(
        sampled_gaussian_privacy_spent(4.0, 1.0, 2, 1e-5).epsilon
    )
    assert receipt.rounds[0].contributed_to == ""  # round 2's model never reached it
    record_model(path, 3, "0xfeed")
    assert load_receipt(path).rounds[1].contributed_to == "0xfeed"
    assert "epsilon" in render(load_receipt(path)) and "0xfeed" in render(load_receipt(path))


def test_without_dp_sgd_the_receipt_says_there_is_no_epsilon(tmp_path):
    path = tmp_path / "acme.json"
    _round(path, 1, steps=0, dp=None)
    _round(path, 2, steps=0, dp=None, trained_from="0x02")
    receipt = load_receipt(path)
    assert receipt.epsilon is None and receipt.rounds[0].contributed_to == "0x02"
    assert "off" in render(receipt)


def test_a_missing_or_malformed_receipt_is_a_one_line_error_naming_the_file(tmp_path):
    with pytest.raises(ReceiptError, match=r"no receipt at .*none\.json"):
        load_receipt(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReceiptError, match=r"malformed receipt .*bad\.json"):
        load_receipt(bad)


def test_a_second_run_on_the_same_rows_adds_to_epsilon_and_replaces_nothing(tmp_path):
    """Flower run ids key the entries: run 2's round 1 is a new release of the same rows."""
    path = tmp_path / "acme.json"
    for run in (11, 12):
        for rnd in (1, 2):
            record_round(
                path, run=run, provider="acme", server_round=rnd, rows=120, steps=2,
                trained_from=f"0x{run}{rnd}", record_dp=DP, delta=1e-5,
            )  # fmt: skip
        record_model(path, 2, f"0xend{run}", run=run)
    receipt = load_receipt(path)
    assert [(r.run, r.round) for r in receipt.rounds] == [(11, 1), (11, 2), (12, 1), (12, 2)]
    assert receipt.epsilon == pytest.approx(
        sampled_gaussian_privacy_spent(4.0, 1.0, 8, 1e-5).epsilon
    )
    assert receipt.rounds[0].contributed_to == "0x112"  # run 11's round 2 trained from it
    assert receipt.rounds[2].contributed_to == "0x122"  # run 12's, not run 11's
    assert [r.contributed_to for r in receipt.rounds[1::2]] == ["0xend11", "0xend12"]
    assert "in 2 runs (epsilon adds up over them)" in render(receipt)


def test_the_receipt_names_each_networks_clipping_norm(tmp_path):
    path = tmp_path / "acme.json"
    dp = RecordDP(9.2, 30.0, 1.0, 10.0)
    record_round(
        path, provider="acme", server_round=1, rows=120, steps=2, trained_from="0x1",
        record_dp=dp, delta=1e-5,
    )  # fmt: skip
    receipt = load_receipt(path)
    assert (receipt.clipping_norm, receipt.risk_clipping_norm) == (30.0, 10.0)
    assert "clipping norm 30 volatility, 10 VaR)" in render(receipt)
