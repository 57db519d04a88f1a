"""The steering benchmark's search pieces on small known cases (the benchmark itself is run by
`proofcast bench steering`, never timed here)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.data import load_bundled
from oracle.attest.benchmark import (
    QUORUM,
    Worst,
    greedy,
    honest_observations,
    ohlc,
    subsets,
)


def test_greedy_finds_the_box_corner_of_a_separable_score() -> None:
    weights = np.array([[1.0, -2.0], [0.5, 3.0]])
    lo, hi = -np.ones((2, 2)), np.ones((2, 2))
    best = greedy(np.zeros((2, 2)), lo, hi, lambda x: float((weights * x).sum()))
    assert best == np.abs(weights).sum()
    # a forbidden value (None) is never taken
    blocked = greedy(np.zeros(1), -np.ones(1), np.ones(1), lambda x: None if x[0] > 0 else -x[0])
    assert blocked == 1.0


def test_subsets_are_every_quorum_choice_and_worst_tracks_both_signs() -> None:
    assert len(subsets(range(4))) == 5 and all(len(s) >= QUORUM for s in subsets(range(4)))
    worst = Worst.none()
    worst.add(np.array([[1.1, 2.0], [0.9, 2.5]]), np.array([1.0, 2.0]))
    assert np.allclose(worst.up, [10.0, 25.0]) and np.allclose(worst.down, [-10.0, 0.0])
    assert worst.json(5.0)["var_pct_per_bps"] == 5.0


def test_the_demo_scenario_is_three_copies_and_one_3_bps_off() -> None:
    s = load_bundled("ibm")
    series = replace(s.slice(len(s) - 24), volume=None)
    observed = honest_observations(series, "demo", np.random.default_rng(0))
    assert observed[0] is observed[1] is observed[2]
    assert np.allclose(ohlc(observed[3]) / ohlc(series), 1.0003)
    noisy = honest_observations(series, "noisy", np.random.default_rng(0))
    ratio = np.abs(ohlc(noisy[0]) / ohlc(series) - 1) * 1e4
    assert ratio.max() <= 3.0 + 1e-9 and len({id(o) for o in noisy}) == 4
