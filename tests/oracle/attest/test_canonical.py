"""Canonical inputs: an attester signs only the canonical rule of at least 2f+1 signed
observations that include its own (real CSV data, real signatures, the shared features). Each
refusal is named: non-canonical bars (the 10 bps tolerance shopping of issue 22), missing,
forged, duplicate or foreign observations, a proposal without the attester's own observation;
the tolerance check still catches f+1 observers that agree on a lie."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.features import HISTORY_BARS, latest_features
from oracle.attest.checks import CheckPolicy
from oracle.attest.client import select_observations
from oracle.attest.local import attester_keys
from oracle.attest.report import (
    NotCanonicalError,
    Proposal,
    SignedObservation,
    canonical_proposal,
    canonical_slot,
    observation_values_hash,
    sign_observation,
)
from oracle.attest.wire import proposal_body_limit
from tests.oracle.attest.test_checks import (
    CHAIN,
    END,
    FEEDS,
    KEYS,
    ORACLE,
    OUT_SCALE,
    SCALE,
    SET,
    checker,
    observation,
    only,
    propose,
    recent,
)
from tests.oracle.node.market import append_candle, write_candles


@pytest.fixture
def data(tmp_path: Path) -> Path:
    for seed, name in enumerate(FEEDS):
        write_candles(tmp_path / f"{name}.csv", END, days=40, seed=seed)
    return tmp_path


def shifted(data: Path, to: Path, bps: float) -> Path:
    """A copy of `data` with every price `bps` higher (a vendor that disagrees)."""
    to.mkdir(exist_ok=True)
    for name in FEEDS:
        lines = (data / f"{name}.csv").read_text().splitlines()
        out = [lines[0]]
        for line in lines[1:]:
            d, *prices, vol = line.split(",")
            out.append(",".join([d, *(f"{float(p) * (1 + bps / 1e4):.6f}" for p in prices), vol]))
        (to / f"{name}.csv").write_text("\n".join(out) + "\n")
    return to


def canonical(observations, slots=FEEDS):
    return canonical_proposal(CHAIN, ORACLE, 1, SCALE, slots, observations, output_scale=OUT_SCALE)[
        0
    ]


def test_the_rule_is_the_lower_median_of_values_and_of_features(data: Path, tmp_path) -> None:
    low, high = shifted(data, tmp_path / "low", -5), shifted(data, tmp_path / "high", 40)
    series = [recent(d, FEEDS[0]) for d in (high, data, low)]
    bars, features = canonical_slot(FEEDS[0], series)
    assert np.array_equal(bars.close, series[1].close)  # the middle one of three
    assert np.array_equal(features, np.median([latest_features(s) for s in series], axis=0))
    four = [*series, recent(shifted(data, tmp_path / "top", 80), FEEDS[0])]
    bars4, _ = canonical_slot(FEEDS[0], four)
    assert np.array_equal(bars4.close, series[1].close)  # lower median of four: 2nd smallest
    with pytest.raises(NotCanonicalError, match="disagree on the days"):
        canonical_slot(FEEDS[0], [series[0], recent(data, FEEDS[0], drop_last=1)])


def test_an_honest_canonical_proposal_is_signed_and_one_liar_is_outvoted(
    data: Path, tmp_path: Path
) -> None:
    liar = shifted(data, tmp_path / "liar", 500)  # 5 %: far outside any tolerance
    observations = (
        observation(KEYS[0], data),
        observation(KEYS[1], data),
        observation(KEYS[2], liar),
    )
    proposal = canonical(observations)
    assert checker(data).check(proposal) == []
    ohlc = [{k: v for k, v in b.items() if k != "volume"} for b in propose(data).bars]
    assert [{k: v for k, v in b.items() if k != "volume"} for b in proposal.bars] == ohlc
    # over the wire, observations and all
    again = Proposal.from_json(json.loads(json.dumps(proposal.to_json())))
    assert again == proposal and checker(data).check(again) == []


def test_bars_moved_within_tolerance_are_not_canonical(data: Path) -> None:
    """The measured attack: every OHLC value free within 10 bps. A 9.99 bps move passes the
    tolerance check, and is refused as NotCanonical naming the bar, field and distance."""
    proposal = propose(data)
    bars = {k: list(v) if isinstance(v, list) else v for k, v in proposal.bars[0].items()}
    bars["high"][-1] *= 1 + 9.99e-4
    moved = replace(proposal, bars=(bars, proposal.bars[1]))
    r = only(checker(data).check(moved))
    assert (r.code, r.feed) == ("NotCanonical", "ETH-USD")
    assert f"bar {bars['dates'][-1]} high" in r.detail and "9.99 bps off" in r.detail
    # the transmitter's own choice with no observations at all
    r = only(checker(data).check(replace(proposal, observations=())))
    assert r.code == "ObservationsMissing" and "0 signed observations, need 3" in r.detail


def test_too_few_forged_duplicate_and_foreign_observations(data: Path) -> None:
    proposal = propose(data)
    mine = checker(data)
    two = replace(proposal, observations=proposal.observations[:2])
    assert only(mine.check(two)).code == "ObservationsMissing"
    # a value changed after signing: the signature recovers to someone else
    o = proposal.observations[1]
    name, series = o.observed[0]
    close = series.close.copy()
    close[-1] *= 1.001
    forged = SignedObservation(
        o.signer, ((name, replace(series, close=close)), *o.observed[1:]), o.signature
    )
    r = only(mine.check(replace(proposal, observations=(*proposal.observations[:1], forged,
                                                        proposal.observations[2]))))  # fmt: skip
    assert r.code == "BadObservationSignature" and o.signer in r.detail
    twice = (*proposal.observations[:2], proposal.observations[1])
    assert only(mine.check(replace(proposal, observations=twice))).code == "DuplicateObserver"
    stranger = observation(attester_keys(1)[0], data)
    foreign = (*proposal.observations[:2], stranger)
    r = only(mine.check(replace(proposal, observations=foreign)))
    assert r.code == "UnknownObserver" and stranger.signer in r.detail
    # bound to chain and oracle: an observation signed for another oracle does not recover
    elsewhere = sign_observation(
        KEYS[2].reveal(), CHAIN, "0x" + "11" * 20, [(n, recent(data, n)) for n in FEEDS]
    )
    other = (*proposal.observations[:2], elsewhere)
    assert only(mine.check(replace(proposal, observations=other))).code == (
        "BadObservationSignature"
    )
    many = replace(proposal, observations=proposal.observations * 6)
    assert only(mine.check(many)).code == "TooManyObservations"


def test_a_proposal_without_the_attesters_own_observation_is_refused(data: Path) -> None:
    fourth = attester_keys(1)[0]
    mine = checker(data, attesters=(*SET, fourth.address))
    others = (*propose(data).observations[1:], observation(fourth, data))
    proposal = replace(propose(data), observations=others)
    r = only(mine.check(proposal))
    assert r.code == "OwnObservationMissing" and KEYS[0].address in r.detail
    # its own observation, but of data it no longer holds (a new bar since)
    stale = propose(data)
    for name in FEEDS:
        append_candle(data / f"{name}.csv", seed=7)
    r = mine.check(stale)
    assert {x.code for x in r} == {"OwnObservationMismatch"}


def test_the_tolerance_check_still_catches_f_plus_one_observers_agreeing_on_a_lie(
    data: Path, tmp_path: Path
) -> None:
    lie = shifted(data, tmp_path / "lie", 50)
    observations = (
        observation(KEYS[0], data),
        observation(KEYS[1], lie),
        observation(KEYS[2], lie),
    )
    r = checker(data).check(canonical(observations))  # the median is the lie
    assert {x.code for x in r} == {"BarMismatch"} and "50.0 bps" in r[0].detail


def test_the_set_comes_from_the_chain_when_it_can_be_read(data: Path) -> None:
    proposal = propose(data)
    mine = checker(data, attesters=(), threshold=0)
    assert only(mine.check(proposal)).code == "AttesterSetUnavailable"
    mine.chain_attester_set = lambda: (SET, 2)
    assert mine.check(proposal) == []
    mine.chain_attester_set = lambda: (SET, 3)  # 2t - 1 = 5 observations now
    assert only(mine.check(proposal)).code == "ObservationsMissing"

    def down() -> tuple:
        raise ConnectionError("rpc down")

    mine.chain_attester_set = down
    assert only(mine.check(proposal)).code == "AttesterSetUnavailable"


def test_observations_that_disagree_on_the_days_are_selected_by_majority(data: Path, tmp_path):
    behind = tmp_path / "behind"
    behind.mkdir()
    for name in FEEDS:
        (behind / f"{name}.csv").write_text((data / f"{name}.csv").read_text())
    for name in FEEDS:
        append_candle(data / f"{name}.csv", seed=3)
    obs = [observation(k, data) for k in KEYS] + [observation(attester_keys(1)[0], behind)]
    used, left_out = select_observations(obs, FEEDS, 3)
    assert used == obs[:3] and left_out == []
    used, left_out = select_observations(obs[2:], FEEDS, 3)
    assert used == [] and set(left_out) == set(FEEDS)
    with pytest.raises(NotCanonicalError, match="disagree on the days"):
        canonical(obs[2:])


def test_the_encoding_binds_every_value_and_an_honest_proposal_fits_the_body_limit(
    data: Path,
) -> None:
    observed = [(n, recent(data, n)) for n in FEEDS]
    base = observation_values_hash(observed)
    name, s = observed[0]
    for field in ("open", "high", "low", "close"):
        values = getattr(s, field).copy()
        values[0] = np.nextafter(values[0], np.inf)
        assert observation_values_hash([(name, replace(s, **{field: values})), observed[1]]) != base
    assert observation_values_hash(observed[::-1]) != base
    # the policy's maximum of observations of real-sized bars fits the body limit of K = 2
    honest = propose(data)
    most = CheckPolicy.max_observations
    full = replace(honest, observations=(honest.observations * most)[:most])
    size = len(json.dumps(full.to_json()).encode())
    assert size <= proposal_body_limit(2, HISTORY_BARS, most), size
