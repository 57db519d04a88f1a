"""An attester's checks on real CSV data with the shared feature function: what it signs and
every reason it refuses (each refusal names the feed and, for data, the bar). Proposals carry
three signed observations (KEYS; the checker is KEYS[0]): quorum 2f+1 = 3 for threshold 2."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.data import load_ohlc_csv
from models.features import HISTORY_BARS
from oracle.attest.checks import Checker, CheckPolicy, Refusal
from oracle.attest.report import (
    FIELD_MODULUS,
    Proposal,
    ProposalError,
    SignedObservation,
    bars_from_json,
    bars_to_json,
    build_proposal,
    close_time,
    sign_observation,
)
from oracle.node.config import FeedConfig
from oracle.node.keys import SigningKey
from oracle.node.sources import CsvDirectorySource
from tests.oracle.node.market import append_candle, write_candles

ORACLE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN = 31337
SCALE = 7
OUT_SCALE = 13
FEEDS = ("ETH-USD", "BTC-USD")
END = dt.date(2026, 1, 30)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    for seed, name in enumerate(FEEDS):
        write_candles(tmp_path / f"{name}.csv", END, days=40, seed=seed)
    return tmp_path


KEYS = tuple(SigningKey("0x" + f"{b:02x}" * 32) for b in (0x42, 0x43, 0x44))  # test keys only
SET = tuple(k.address for k in KEYS)


def checker(directory: Path, address: str | None = KEYS[0].address, **policy: object) -> Checker:
    feeds = tuple(FeedConfig(n, f"{n}.csv", max_move_sigmas=0) for n in FEEDS)
    base = CheckPolicy(CHAIN, ORACLE, slots=2, input_scale=SCALE, attesters=SET, threshold=2)
    return Checker(
        replace(base, **policy),
        feeds,
        CsvDirectorySource(directory, calendar="daily"),
        address=address,
    )


def observation(key: SigningKey, directory: Path, feeds=FEEDS) -> SignedObservation:
    """`key`'s signed observation of `feeds` as `directory` has them (every bar the features
    use: all bars of these young test feeds)."""
    observed = [(n, recent(directory, n)) for n in feeds]
    return sign_observation(key.reveal(), CHAIN, ORACLE, observed)


def recent(directory: Path, name: str, bars: int = HISTORY_BARS, drop_last: int = 0):
    """The last `bars` bars (all there are of a younger feed), `drop_last` days ago."""
    series = load_ohlc_csv(directory / f"{name}.csv", calendar="daily")
    end = len(series) - drop_last
    return series.slice(max(0, end - bars), end)


def propose(
    directory: Path, slots=FEEDS, version: int = 1, observers: Path | None = None, **kw
) -> Proposal:
    """The transmitter's proposal of `directory`'s bars (`kw`: `recent`'s), carrying the three
    KEYS' observations of `observers` (default: `directory`): the canonical report when the
    bars are the observed ones."""
    series = [None if n is None else (n, recent(directory, n, **kw)) for n in slots]
    proposal, _ = build_proposal(CHAIN, ORACLE, version, SCALE, series, output_scale=OUT_SCALE)
    held = observers or directory
    feeds = [n for n in FEEDS if (held / f"{n}.csv").is_file()]
    return replace(proposal, observations=tuple(observation(k, held, feeds) for k in KEYS))


def only(refusals: list[Refusal]) -> Refusal:
    assert len(refusals) == 1, refusals
    return refusals[0]


def test_an_honest_proposal_is_signed_and_survives_the_wire(data: Path) -> None:
    proposal = propose(data)
    assert Proposal.from_json(proposal.to_json()) == proposal
    assert checker(data).check(Proposal.from_json(proposal.to_json())) == []
    # observedAt is the close time of each feed's last bar (next midnight UTC)
    assert proposal.report.observed_at[0] == int(
        dt.datetime(2026, 1, 31, tzinfo=dt.UTC).timestamp()
    )


def test_cherry_picked_older_bars_are_refused_as_stale(data: Path) -> None:
    old = propose(data, drop_last=5)  # real bars, consistent commitment, but not the latest
    r = checker(data).check(old)
    assert {x.code for x in r} == {"StaleObservation"}
    assert "my latest is 2026-01-30" in r[0].detail and "2026-01-25" in r[0].detail


def test_bars_the_attester_has_not_seen_are_refused(data: Path, tmp_path_factory) -> None:
    ahead = tmp_path_factory.mktemp("ahead")
    for seed, name in enumerate(FEEDS):
        (ahead / f"{name}.csv").write_text((data / f"{name}.csv").read_text())
        append_candle(ahead / f"{name}.csv", seed=50 + seed)
    r = checker(data).check(propose(ahead, observers=data))
    assert {x.code for x in r} == {"FutureObservation"}


def test_a_bar_outside_tolerance_is_refused_naming_bar_field_and_size(data: Path) -> None:
    mine = checker(data)
    proposal = propose(data)
    bars = dict(proposal.bars[1])
    bars["low"] = list(bars["low"])
    bars["low"][-3] *= 0.998  # 20 bps on the third-last bar (still a valid bar)
    date = bars["dates"][-3]
    forged = replace(proposal, bars=(proposal.bars[0], bars))
    r = only(mine.check(forged))
    assert r.code == "BarMismatch" and r.feed == "BTC-USD"
    assert f"bar {date} low" in r.detail and "20.0 bps" in r.detail


def test_a_copy_within_tolerance_is_signed(data: Path, tmp_path_factory) -> None:
    other = tmp_path_factory.mktemp("other-vendor")
    for name in FEEDS:
        lines = (data / f"{name}.csv").read_text().splitlines()
        out = [lines[0]]
        for line in lines[1:]:
            d, *prices, vol = line.split(",")
            out.append(",".join([d, *(f"{float(p) * 1.0004:.6f}" for p in prices), vol]))
        (other / f"{name}.csv").write_text("\n".join(out) + "\n")
    proposal = propose(data)
    mine = observation(KEYS[0], other)  # the checker's own observation is of its own copy
    proposal = replace(proposal, observations=(mine, *proposal.observations[1:]))
    assert checker(other).check(proposal) == []  # 4 bps < 10 bps; the median is the others'
    assert {x.code for x in checker(other, tolerance_bps=3).check(proposal)} == {"BarMismatch"}


def test_moved_observation_time_is_refused(data: Path) -> None:
    proposal = propose(data)
    observed = proposal.report.observed_at
    moved = replace(proposal.report, observed_at=(observed[0] - 80_000, observed[1]))
    r = only(checker(data).check(replace(proposal, report=moved)))
    assert r.code == "ObservedAtMismatch" and r.feed == "ETH-USD"


def test_a_hidden_loss_or_a_skipped_day_is_refused(data: Path) -> None:
    """The realised return and previous close the oracle scores its VaR with are the bars'."""
    proposal = propose(data)
    signed = proposal.report
    hidden = replace(signed, realized_return=(0, signed.realized_return[1]))
    r = only(checker(data).check(replace(proposal, report=hidden)))
    assert r.code == "OutcomeMismatch" and r.feed == "ETH-USD"
    assert f"give {signed.previous_observed_at[0]} and {signed.realized_return[0]}" in r.detail
    chained = replace(signed, previous_observed_at=(signed.observed_at[0] - 3 * 86_400,
                                                    signed.previous_observed_at[1]))  # fmt: skip
    assert only(checker(data).check(replace(proposal, report=chained))).code == "OutcomeMismatch"


def test_signatures_are_short_lived_and_for_the_chains_configuration(data: Path) -> None:
    proposal = propose(data)
    ttl = CheckPolicy(CHAIN, ORACLE, slots=2, input_scale=SCALE).max_signature_ttl
    for valid_until in (int(time.time()) - 1, int(time.time()) + ttl + 60):
        late = replace(proposal, report=replace(proposal.report, valid_until=valid_until))
        assert only(checker(data).check(late)).code == "BadExpiry"
    on_chain = checker(data)
    on_chain.chain_config_version = lambda: 1
    assert on_chain.check(proposal) == []
    on_chain.chain_config_version = lambda: 2  # the admin moved on: version 1 is not signed
    r = only(on_chain.check(proposal))
    assert r.code == "WrongConfigVersion" and "the chain is on 2" in r.detail
    future = propose(data, version=3)  # nor a version the chain does not have yet
    assert only(on_chain.check(future)).code == "WrongConfigVersion"


def test_a_commitment_to_other_features_is_refused(data: Path) -> None:
    proposal = propose(data)
    r = only(checker(data).check(replace(proposal, commitment=proposal.commitment ^ 1)))
    assert r.code == "CommitmentMismatch"


def test_permuted_slots_commit_differently(data: Path) -> None:
    """Swapping the feeds swaps the rows: the commitment of the honest order no longer fits."""
    honest = propose(data)
    swapped = propose(data, slots=FEEDS[::-1])
    assert checker(data).check(swapped) == []  # a different, honest report
    assert swapped.commitment != honest.commitment
    r = only(checker(data).check(replace(swapped, commitment=honest.commitment)))
    assert r.code == "CommitmentMismatch"


def test_wrong_domain_slot_count_unknown_and_duplicate_feeds(data: Path) -> None:
    mine = checker(data)
    proposal = propose(data)
    assert only(mine.check(replace(proposal, chain_id=1))).code == "WrongDomain"
    other = "0x" + "11" * 20
    assert only(mine.check(replace(proposal, oracle=other))).code == "WrongDomain"
    assert only(checker(data, slots=3).check(proposal)).code == "SlotCount"
    assert {x.code for x in mine.check(propose(data, slots=(FEEDS[0], FEEDS[0])))} == {
        "DuplicateFeed"
    }
    (data / "SOL-USD.csv").write_text((data / "ETH-USD.csv").read_text())
    r = only(mine.check(propose(data, slots=("SOL-USD", FEEDS[1]))))
    assert (r.code, r.feed) == ("UnknownFeed", "SOL-USD")


def test_an_empty_slot_commits_to_a_zero_row(data: Path) -> None:
    proposal = propose(data, slots=(None, FEEDS[1]))
    assert proposal.report.observed_at[0] == 0 and proposal.bars[0] is None
    assert checker(data).check(proposal) == []


def test_skipped_day_and_too_few_bars(data: Path) -> None:
    honest, long = propose(data), propose(data, bars=25)
    bars = {k: (v[:10] + v[11:] if isinstance(v, list) else v) for k, v in long.bars[0].items()}
    r = only(checker(data).check(replace(honest, bars=(bars, honest.bars[1]))))
    assert r.code == "BarMismatch" and "skipped" in r.detail
    missing = long.bars[0]["dates"][10]
    assert f"day {missing} is missing" in r.detail
    for n in (23, 25):
        assert {x.code for x in checker(data).check(propose(data, bars=n))} == {"BadBars"}


def test_an_implausible_last_bar_is_refused(data: Path) -> None:
    path = data / "ETH-USD.csv"
    last = path.read_text().strip().splitlines()[-1].split(",")
    day = dt.date.fromisoformat(last[0]) + dt.timedelta(days=1)
    p = float(last[4])
    append_candle(path, 0, f"{day},{p},{p * 10},{p},{p * 10},1000\n")  # a 10x tick
    append_candle(data / "BTC-USD.csv", 1)
    r = only(checker(data, max_move_sigmas=12).check(propose(data)))
    assert (r.code, r.feed) == ("ImplausibleMove", "ETH-USD") and str(day) in r.detail


def test_observation_after_now_is_refused(data: Path) -> None:
    clocked = checker(data)
    clocked.clock = lambda: close_time(recent(data, FEEDS[0])) - 1.0
    proposal = propose(data)
    expiry = replace(proposal.report, valid_until=int(clocked.clock()) + 60)
    assert {x.code for x in clocked.check(replace(proposal, report=expiry))} == {
        "FutureObservation"
    }
    assert checker(data).clock() == pytest.approx(time.time(), abs=5)


def test_malformed_proposals_raise_specific_errors(data: Path) -> None:
    good = propose(data).to_json()
    for broken, message in [
        ({**good, "commitment": str(FIELD_MODULUS)}, "commitment"),
        ({**good, "chain_id": -1}, "chain_id"),
        ({**good, "slots": []}, "slots"),
        ({k: v for k, v in good.items() if k != "oracle"}, "oracle"),
        ({**good, "slots": [{"feed": "ETH-USD", "observed_at": 2**32}, None]}, "observed_at"),
    ]:
        with pytest.raises(ProposalError, match=message):
            Proposal.from_json(broken)
    with pytest.raises(ProposalError, match=r"bars\.close"):
        bars_from_json("X", {"dates": ["2026-01-01"], "close": ["a"]})
    series = recent(data, FEEDS[0])
    again = bars_from_json(series.name, bars_to_json(series))
    assert np.array_equal(again.close, series.close) and np.array_equal(again.dates, series.dates)
