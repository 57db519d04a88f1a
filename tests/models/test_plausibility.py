"""The last-bar plausibility check: real history passes, a corrupt tick is named."""

import numpy as np
import pytest

from models.data import load_bundled
from models.plausibility import implausible_move, last_move_sigmas


def test_ordinary_days_of_real_history_pass() -> None:
    series = load_bundled("sp500")
    flagged = [
        end
        for end in range(len(series) - 500, len(series))
        if implausible_move(series.slice(end - 40, end), 12.0) is not None
    ]
    assert flagged == []


def test_a_tenfold_tick_on_the_last_close_is_refused_with_its_date() -> None:
    series = load_bundled("sp500").slice(-40, None)
    close = series.close.copy()
    close[-1] *= 10
    high = np.maximum(series.high.copy(), close)
    bad = type(series)(series.name, series.dates, series.open, high, series.low, close, None)
    found = implausible_move(bad, 12.0)
    assert found is not None and found.sigmas > 100
    assert str(np.datetime64(series.dates[-1], "D")) in str(found)
    assert implausible_move(bad, 0) is None  # 0 disables the check


def test_too_short_a_series_is_an_error() -> None:
    with pytest.raises(ValueError, match="need 24"):
        last_move_sigmas(load_bundled("sp500").slice(0, 10))
