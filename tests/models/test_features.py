import math

import numpy as np
import pytest

from models.data import PriceSeries, load_bundled
from models.features import (
    FEATURE_NAMES,
    FHS_DOWN_WEIGHT,
    FHS_LAMBDA,
    FHS_LEVEL,
    FHS_PRIOR,
    FHS_WINDOW,
    HISTORY_BARS,
    MIN_HISTORY,
    NUM_FEATURES,
    VAR_FHS,
    VOL_FLOOR,
    InsufficientHistoryError,
    build_features,
    close_to_close_variance,
    feature_table,
    fhs_filter,
    fhs_quantile,
    garman_klass_variance,
    latest_features,
    parkinson_variance,
    realized_variance,
)


def close_only(returns_pct: list[float], name: str = "cc") -> PriceSeries:
    close = 100.0 * np.exp(np.cumsum(np.r_[0.0, returns_pct]) / 100.0)
    dates = np.datetime64("2024-01-01") + np.arange(len(close))
    return PriceSeries(name, dates, None, None, None, close, None)


def test_estimators_against_hand_computed_values() -> None:
    # One day: O=100, H=110, L=95, C=105.
    u, c = math.log(110 / 95), math.log(105 / 100)
    assert parkinson_variance(np.array([110.0]), np.array([95.0]))[0] == pytest.approx(
        u * u / (4 * math.log(2))
    )
    gk = garman_klass_variance(*(np.array([v]) for v in (100.0, 110.0, 95.0, 105.0)))[0]
    assert gk == pytest.approx(0.5 * u * u - (2 * math.log(2) - 1) * c * c)
    assert gk == pytest.approx(0.0098267, abs=1e-7)  # 0.5*0.146603^2 - 0.386294*0.048790^2
    cc = close_to_close_variance(np.array([100.0, 110.0, 99.0]))
    assert np.isnan(cc[0])
    np.testing.assert_allclose(cc[1:], [math.log(1.1) ** 2, math.log(0.9) ** 2])


def test_realized_variance_adds_overnight_gap_to_garman_klass() -> None:
    d = np.datetime64("2024-01-01") + np.arange(2)
    s = PriceSeries(
        "x", d, np.array([100.0, 102.0]), np.array([101.0, 104.0]), np.array([99.0, 101.0]),
        np.array([100.0, 103.0]), None,
    )  # fmt: skip
    rv = realized_variance(s)
    gk = garman_klass_variance(*(np.array([v]) for v in (102.0, 104.0, 101.0, 103.0)))[0]
    assert np.isnan(rv[0])
    assert rv[1] == pytest.approx(1e4 * (gk + math.log(102 / 100) ** 2))


def test_har_components_against_hand_computed_values() -> None:
    # Returns cycle 1 %, -2 %, 3 %: daily log vol (percent) is ln 1, ln 2, ln 3.
    rets = [1.0, -2.0, 3.0] * 10
    X, logvol, _ = feature_table(close_only(rets))
    assert np.isnan(logvol[0]) and np.isnan(X[MIN_HISTORY - 2]).any()
    col = {name: X[:, i] for i, name in enumerate(FEATURE_NAMES)}
    t = 30  # day 30 has return rets[29] = 3 %
    lv = [math.log(abs(r)) for r in rets]
    w = [0.94**k for k in range(22)]
    ewm = sum(wk * rets[29 - k] ** 2 for k, wk in enumerate(w)) / sum(w)
    b, sigma = 0.5 * math.log(ewm), math.sqrt(ewm)
    assert col["logvol_ewm"][t] == pytest.approx(b)
    assert col["logvol_d_rel"][t] == pytest.approx(math.log(3) - b)
    assert col["logvol_w_rel"][t] == pytest.approx(sum(lv[25:30]) / 5 - b)
    assert col["logvol_m_rel"][t] == pytest.approx(sum(lv[8:30]) / 22 - b)
    # var_fhs: filter over the 30 returns so far (down days doubled), times the prior (fewer
    # than FHS_MIN_SCORES scores are known)
    fw = [FHS_LAMBDA**k for k in range(30)]
    x = [r * r * (1 + FHS_DOWN_WEIGHT * (r < 0)) for r in rets]
    s2 = sum(wk * x[29 - k] for k, wk in enumerate(fw)) / sum(fw)
    assert col["var_fhs"][t] == pytest.approx(math.sqrt(s2) * FHS_PRIOR)
    assert col["ret_d_z"][t] == pytest.approx(3.0 / sigma)
    assert col["ret_w_z"][t] == pytest.approx(sum(rets[25:30]) / sigma)
    assert col["logvol_sd_m"][t] == pytest.approx(float(np.std(lv[8:30])))


def test_scale_free_features_do_not_see_the_volatility_level() -> None:
    # Scaling every return by 3 shifts log vols by ln 3 and changes nothing scale-free.
    rets = [1.0, -2.0, 3.0, 0.5, -1.5] * 8
    X1, _, _ = feature_table(close_only(rets))
    X3, _, _ = feature_table(close_only([3.0 * r for r in rets]))
    t = len(rets)
    for i, name in enumerate(FEATURE_NAMES):
        if name == "logvol_ewm":
            assert X3[t, i] - X1[t, i] == pytest.approx(math.log(3), abs=1e-9)
        elif name == "var_fhs":
            assert X3[t, i] / X1[t, i] == pytest.approx(3.0, rel=1e-9)
        else:
            assert X3[t, i] == pytest.approx(X1[t, i], abs=1e-9), name


def test_zero_return_hits_the_floor() -> None:
    _, logvol, _ = feature_table(close_only([0.0, 1.0]))
    assert logvol[1] == pytest.approx(math.log(VOL_FLOOR))


def test_build_features_rows_targets_and_no_nan() -> None:
    s = load_bundled("sp500")
    f = build_features(s)
    assert f.X.shape == (len(s) - MIN_HISTORY, NUM_FEATURES) and f.X.dtype == np.float32
    assert np.isfinite(f.X).all() and np.isfinite(f.target_logvol).all()
    _, logvol, ret = feature_table(s)
    first = MIN_HISTORY - 1
    assert f.dates[0] == s.dates[first] and f.dates[-1] == s.dates[-2]
    assert f.target_logvol[0] == logvol[first + 1] and f.next_return[-1] == ret[-1]
    np.testing.assert_allclose(f.target_rv, np.exp(2 * f.target_logvol))


def test_features_use_no_future_data() -> None:
    s = load_bundled("wti")
    full = build_features(s)
    cut = build_features(s.slice(0, 300))
    # Row t of the truncated series equals row t of the full one: nothing after t is used.
    np.testing.assert_allclose(cut.X, full.X[: len(cut)], rtol=1e-6, atol=1e-6)
    # Latest features of a prefix = the full feature row of that prefix's last day.
    X, _, _ = feature_table(s)
    np.testing.assert_allclose(latest_features(s.slice(0, 500)), X[499], rtol=1e-5, atol=1e-5)
    # HISTORY_BARS bars determine a row exactly: the node's window gives the training value.
    np.testing.assert_allclose(latest_features(s.slice(0, 3000)), X[2999], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        latest_features(s.slice(3000 - HISTORY_BARS, 3000)), X[2999], rtol=1e-5, atol=1e-5
    )


def test_fhs_quantile_is_the_feeds_own_tail_and_leans_on_the_prior_when_short() -> None:
    rng = np.random.default_rng(1)
    scores = np.r_[np.nan, np.nan, np.abs(rng.standard_t(3, size=2000))]
    q = fhs_quantile(scores)
    assert q[10] == FHS_PRIOR  # fewer than FHS_MIN_SCORES scores: the prior alone
    k = 300 - 1  # scores known at day 300
    want = (k * np.quantile(scores[2:301], FHS_LEVEL) + (FHS_WINDOW - k) * FHS_PRIOR) / FHS_WINDOW
    assert q[300] == pytest.approx(want)
    assert q[1500] == pytest.approx(np.quantile(scores[1001:1501], FHS_LEVEL))
    # a feed with a heavier tail gets a larger quantile, day by day, from its own scores
    assert np.all(fhs_quantile(2.0 * scores)[FHS_WINDOW + 2 :] > q[FHS_WINDOW + 2 :])


def test_a_feed_with_only_a_few_weeks_of_bars_still_gets_a_var_input() -> None:
    s = load_bundled("sp500").slice(0, MIN_HISTORY)
    x = latest_features(s)
    assert np.isfinite(x).all() and x[VAR_FHS] > 0
    rv, ret = realized_variance(s), np.r_[np.nan, 100 * np.diff(np.log(s.close))]
    assert x[VAR_FHS] == pytest.approx(fhs_filter(rv, ret)[-1] * FHS_PRIOR, rel=1e-6)


def test_insufficient_history() -> None:
    with pytest.raises(InsufficientHistoryError, match="cc: 10 days"):
        build_features(close_only([1.0] * 9))
    with pytest.raises(InsufficientHistoryError, match="need at least 23"):
        latest_features(close_only([1.0] * 20))
    assert latest_features(close_only([1.0] * 22)).shape == (NUM_FEATURES,)
