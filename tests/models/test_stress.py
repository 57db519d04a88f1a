import numpy as np

from models.stress import generate_stress_series


def test_stress_series_is_seeded_and_valid_ohlc() -> None:
    a, b, c = (generate_stress_series(s, n_days=600) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.close, b.close)
    assert not np.array_equal(a.close, c.close)
    assert a.has_ohlc and len(a) == 600 and a.name == "stress"
    assert np.all(np.diff(a.dates).astype(int) == 1)  # 24/7: every calendar day
    np.testing.assert_array_equal(a.open[1:], a.close[:-1])  # the open is the previous close


def test_crash_regime_has_several_times_normal_volatility() -> None:
    s = generate_stress_series(3, n_days=1000, crash_start=700, crash_days=60)
    r = np.diff(np.log(s.close))
    normal, crash = r[100:690].std(), r[700:759].std()
    assert crash > 2.5 * normal
    assert s.close[759] < 0.5 * s.close[699]  # the crash loses more than half the value


def test_volatility_clusters() -> None:
    r = np.diff(np.log(generate_stress_series(0, n_days=1500, crash_start=10**6).close))
    a = np.abs(r)
    # GARCH clustering: absolute returns are autocorrelated, raw returns much less so.
    assert np.corrcoef(a[:-1], a[1:])[0, 1] > 0.1
    assert abs(np.corrcoef(r[:-1], r[1:])[0, 1]) < 0.1
