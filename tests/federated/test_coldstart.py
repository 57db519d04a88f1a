"""Cold start: the published model on an asset with little history, strictly out of sample."""

from __future__ import annotations

import numpy as np
import pytest

from federated.coldstart import _rows_before, cold_start_asset, markdown, summarise
from federated.task import load_provider, load_series
from models.features import MIN_HISTORY, build_features


def test_the_federation_sees_no_row_whose_outcome_is_in_the_evaluated_year() -> None:
    data = load_provider("bundled:sp500")
    dates = build_features(load_series("bundled:sp500")).dates
    first_eval = np.datetime64("2012-02-29")
    before = _rows_before(data, dates, first_eval)
    keep = before.num_train
    assert 0 < keep < data.num_train + len(data.x_test)
    # row i's outcome is day dates[i + 1]: the last kept row's is before, the next one's is not
    assert dates[keep] < first_eval <= dates[keep + 1]
    assert len(before.x_test) == 0
    all_x = np.concatenate([data.x_train, data.x_test])
    np.testing.assert_array_equal(before.x_train, all_x[:keep])


@pytest.mark.slow
def test_cold_start_rows_score_the_following_year_with_fits_on_the_short_history_only() -> None:
    rows = cold_start_asset(
        "bundled:ibm",
        ["bundled:aapl", "bundled:msft"],
        lengths=(60, 250),
        rounds=3,
        learning_rate=1.0,
        server_lr=0.01,
        progress=lambda _: None,
    )
    assert [r.history_days for r in rows] == [60, 250]
    for r in rows:
        assert r.train_rows == r.history_days - MIN_HISTORY
        assert r.var["days"] == 252  # one forecast per day of the following year
        assert set(r.qlike) == {"published", "ewma", "garch", "har-rv", "local"}
        assert all(np.isfinite(v) and v > 0 for v in r.qlike.values())
    summary = summarise(rows)
    table = markdown(summary)
    assert "| ibm | 60 |" in table and "| ibm | 250 |" in table
    assert summary["assets"] == ["ibm"]
