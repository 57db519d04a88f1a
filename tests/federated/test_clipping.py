"""The record-level clipping norm is chosen on training rows only, never on a test row."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from federated.clipping import CANDIDATES, choose_clipping_norm, validation_split
from federated.config import PUBLISHED_RECORD_CLIP, PUBLISHED_RECORD_CLIP_RISK
from federated.task import load_provider


def test_validation_split_is_the_tail_of_the_training_rows() -> None:
    data = load_provider("bundled:sp500")
    split = validation_split(data)
    n = data.num_train
    assert split.num_train + len(split.x_test) == n
    np.testing.assert_array_equal(split.x_train, data.x_train[: split.num_train])
    np.testing.assert_array_equal(split.x_test, data.x_train[split.num_train :])
    np.testing.assert_array_equal(split.logvol_test, data.logvol_train[split.num_train :])
    assert len(split.x_test) == pytest.approx(0.2 * n, abs=1)


def test_choice_never_reads_a_test_row_and_is_the_lowest_validation_score() -> None:
    """Test rows replaced by NaN: any use of them would turn a score into NaN."""
    poisoned = []
    for spec in ("bundled:sp500", "stress:7"):
        d = load_provider(spec)
        nan = np.full_like(d.x_test, np.nan)
        poisoned.append(replace(d, x_test=nan, logvol_test=nan[:, 0], ret_test=nan[:, 0]))
    choice = choose_clipping_norm(
        poisoned,
        noise_multiplier=9.2,
        rounds=3,
        learning_rate=1.0,
        server_lr=0.01,
        candidates=(1.0, 30.0),
        seeds=(0,),
    )
    assert all(np.isfinite(q) for q in choice.scores.values()) and np.isfinite(choice.non_private)
    assert all(np.isfinite(q) for q in choice.risk_scores.values())
    assert np.isfinite(choice.risk_non_private)
    assert choice.best == min(choice.scores, key=choice.scores.get)
    assert choice.best_risk == min(choice.risk_scores, key=choice.risk_scores.get)
    assert choice.scores[1.0] != choice.scores[30.0]  # the candidate does change the model
    assert choice.risk_scores[1.0] != choice.risk_scores[30.0]


def test_the_published_norms_are_candidates() -> None:
    """`proofcast bench privacy` checks they are the ones the validation split chooses."""
    assert PUBLISHED_RECORD_CLIP in CANDIDATES and PUBLISHED_RECORD_CLIP_RISK in CANDIDATES
