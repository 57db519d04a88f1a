import math

import numpy as np
import pytest

from models.evaluation import (
    VAR_MODELS,
    VOL_MODELS,
    christoffersen_independence,
    diebold_mariano,
    evaluate,
    kupiec_pof,
    mse_logvol,
    qlike,
    rolling_origin_forecasts,
)
from models.features import build_features
from models.stress import generate_stress_series


def breaches(n: int, x: int) -> np.ndarray:
    b = np.zeros(n, dtype=bool)
    b[np.linspace(0, n - 1, x).astype(int)] = True
    return b


def test_qlike_and_mse_known_values() -> None:
    assert qlike(np.array([2.0, 3.0]), np.array([2.0, 3.0])) == 0.0
    # RV/h = 2: 2 - ln 2 - 1 = 0.306853.
    assert qlike(np.array([4.0]), np.array([2.0])) == pytest.approx(1 - math.log(2))
    assert mse_logvol(np.array([0.0, 1.0]), np.array([1.0, 1.0])) == 0.5


@pytest.mark.parametrize(
    ("n", "accepted", "rejected"),
    [
        # Jorion, Value at Risk (3rd ed.), Table 6-3, p = 1 %, 95 % confidence:
        (255, [6], [7]),  # N < 7
        (510, [2, 10], [1, 11]),  # 1 < N < 11
        (1000, [5, 16], [4, 17]),  # 4 < N < 17
    ],
)
def test_kupiec_matches_jorion_nonrejection_regions(
    n: int, accepted: list[int], rejected: list[int]
) -> None:
    for x in accepted:
        assert kupiec_pof(breaches(n, x), 0.01).pvalue > 0.05, x
    for x in rejected:
        assert kupiec_pof(breaches(n, x), 0.01).pvalue < 0.05, x


def test_kupiec_known_statistic() -> None:
    # 5 breaches in 250 days: LR = -2 ln[(0.99^245 0.01^5) / (0.98^245 0.02^5)].
    lr = -2 * (
        245 * math.log(0.99) + 5 * math.log(0.01) - 245 * math.log(0.98) - 5 * math.log(0.02)
    )
    result = kupiec_pof(breaches(250, 5), 0.01)
    assert result.statistic == pytest.approx(lr)
    assert result.statistic == pytest.approx(1.9568, abs=1e-4)
    assert kupiec_pof(breaches(250, 0), 0.01).statistic == pytest.approx(-500 * math.log(0.99))


def test_christoffersen_known_values() -> None:
    # Transitions n00=5, n01=1, n10=1, n11=2 (hand count): pi01 = 1/6, pi11 = 2/3, pi = 1/3.
    b = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    log_l0 = 6 * math.log(2 / 3) + 3 * math.log(1 / 3)
    log_l1 = 5 * math.log(5 / 6) + math.log(1 / 6) + math.log(1 / 3) + 2 * math.log(2 / 3)
    result = christoffersen_independence(b)
    assert result.statistic == pytest.approx(-2 * (log_l0 - log_l1))
    assert result.statistic == pytest.approx(2.2314, abs=1e-4)
    # pi01 = pi11 = pi: no dependence at all.
    assert christoffersen_independence(np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0])).statistic == (
        pytest.approx(0.0, abs=1e-12)
    )
    clustered = np.zeros(1000, dtype=bool)
    clustered[500:510] = True
    assert christoffersen_independence(clustered).pvalue < 1e-6
    assert christoffersen_independence(np.zeros(50, dtype=bool)).statistic == 0.0


def test_diebold_mariano_sign_and_size() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(2000) ** 2
    assert diebold_mariano(a, a + 0.5).statistic < -5  # a has clearly lower loss
    same = diebold_mariano(a, rng.permutation(a))
    assert abs(same.statistic) < 3 and 0 < same.pvalue <= 1


def test_rolling_origin_has_no_look_ahead_and_covers_every_model() -> None:
    series = generate_stress_series(5, n_days=700)
    kw = {"min_train": 400, "refit_every": 150, "epochs": 40}
    fc = rolling_origin_forecasts(series, **kw)
    n_rows = len(build_features(series))
    assert len(fc.dates) == n_rows - 400 and fc.refits == math.ceil((n_rows - 400) / 150)
    assert set(fc.variance) == set(VOL_MODELS) and set(fc.var99) == set(VAR_MODELS)
    for arr in [*fc.variance.values(), *fc.var99.values()]:
        assert np.all(np.isfinite(arr)) and np.all(arr > 0)
    # Changing the future must not change any earlier forecast: scramble the last 100 days.
    cut = len(series) - 100
    tail = series.slice(cut, None)
    rng = np.random.default_rng(1)
    factor = np.exp(np.cumsum(rng.normal(0, 0.05, 100)))
    from dataclasses import replace

    changed = replace(
        series,
        open=np.r_[series.open[:cut], tail.open * factor],
        high=np.r_[series.high[:cut], tail.high * factor],
        low=np.r_[series.low[:cut], tail.low * factor],
        close=np.r_[series.close[:cut], tail.close * factor],
    )
    fc2 = rolling_origin_forecasts(changed, **kw)
    # Forecasts made on days before the change, by models refitted before it, are identical.
    last_origin = 400 + 150 * ((cut - 23 - 400) // 150)  # last refit with only unchanged rows
    same = fc.dates < changed.dates[cut - 1]
    same &= np.arange(len(fc.dates)) < last_origin - 400
    assert same.sum() > 100
    for key in fc.variance:
        np.testing.assert_array_equal(fc.variance[key][same], fc2.variance[key][same], key)
    for key in fc.var99:
        np.testing.assert_array_equal(fc.var99[key][same], fc2.var99[key][same], key)


def test_evaluate_reports_every_model() -> None:
    fc = rolling_origin_forecasts(
        generate_stress_series(2, n_days=600), min_train=300, refit_every=300, epochs=30
    )
    report = evaluate(fc)
    assert set(report["volatility"]) == set(VOL_MODELS)
    for row in report["var"].values():
        assert row["days"] == len(fc.dates)
        assert row["breach_rate"] == pytest.approx(row["breaches"] / row["days"])
        assert 0 <= row["kupiec_p"] <= 1 and 0 <= row["christoffersen_p"] <= 1
    assert report["volatility"]["garch"]["dm_vs_garch"] == 0.0


def test_holdout_baselines_use_nothing_after_the_cut() -> None:
    from dataclasses import replace

    from models.evaluation import holdout_baselines

    series = generate_stress_series(3, n_days=900)
    n = len(build_features(series))
    cut = int(0.7 * n)
    fc = holdout_baselines(series, cut)
    assert len(fc.realized_logvol) == n - cut
    assert set(fc.variance) == {"har-rv", "garch", "ewma"}
    assert set(fc.var99) == {"garch-t", "ewma-normal"}

    # Rewrite every price after the first test row's day: the first forecast must not move.
    first = 22 + cut  # series day of feature row `cut` (rows start at MIN_HISTORY - 1 = 22)
    k = np.arange(len(series)) > first
    changed = replace(
        series,
        open=np.where(k, series.open * 1.7, series.open),
        high=np.where(k, series.high * 1.9, series.high),
        low=np.where(k, series.low * 1.5, series.low),
        close=np.where(k, series.close * 1.6, series.close),
    )
    other = holdout_baselines(changed, cut)
    for key in fc.variance:
        assert other.variance[key][0] == pytest.approx(fc.variance[key][0], rel=1e-9), key
        assert not np.allclose(other.variance[key][5:], fc.variance[key][5:]), key
    for key in fc.var99:
        assert other.var99[key][0] == pytest.approx(fc.var99[key][0], rel=1e-9), key

    fc.variance["model"] = fc.variance["ewma"] * 1.1
    fc.var99["model"] = fc.var99["ewma-normal"]
    scores = evaluate(fc, reference="model")
    assert 0.0 <= scores["volatility"]["garch"]["dm_vs_model_p"] <= 1.0
    assert scores["volatility"]["model"]["dm_vs_model_p"] == 1.0


def test_holdout_baselines_reject_a_cut_outside_the_rows() -> None:
    from models.evaluation import holdout_baselines

    series = generate_stress_series(3, n_days=300)
    with pytest.raises(ValueError, match="cut"):
        holdout_baselines(series, len(build_features(series)))


def test_traffic_light_is_basels_at_250_days_and_keeps_its_tails_below() -> None:
    from models.evaluation import traffic_light

    assert [traffic_light(250, x) for x in (0, 4, 5, 9, 10)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "red",
    ]
    assert [traffic_light(30, x) for x in (1, 2, 3, 4)] == ["green", "yellow", "yellow", "red"]
    assert [traffic_light(2, x) for x in (0, 1, 2)] == ["green", "yellow", "red"]


def test_var_backtest_uses_one_breach_rule_and_zones_the_last_250_days() -> None:
    from models.evaluation import var_backtest, var_breaches

    ret = np.zeros(300)
    var = np.full(300, 2.0)
    ret[[0, 1, 2, 3, 4, 100]] = -2.5  # 5 breaches older than the last 250 days, 1 within
    ret[200] = -2.0  # a loss equal to the VaR is no breach
    assert var_breaches(ret, var).sum() == 6
    out = var_backtest(ret, var)
    assert (out["breaches"], out["days"], out["zone_breaches"], out["zone"]) == (6, 300, 1, "green")
    assert out["breach_rate"] == pytest.approx(0.02)
