import numpy as np
import pytest
from arch import arch_model

from models.baselines import (
    EWMA_LAMBDA,
    HARModel,
    ewma_next_variance,
    fit_garch,
    har_design,
    normal_value_at_risk,
)
from models.data import load_bundled
from models.features import log_returns


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    return log_returns(load_bundled("sp500").close)[1:1500]


def test_har_design_hand_computed() -> None:
    rv = np.arange(1.0, 31.0)
    X = har_design(rv)
    t = 25
    np.testing.assert_allclose(X[t], [1.0, 26.0, np.mean(rv[21:26]), np.mean(rv[4:26])])
    assert np.isnan(X[20, 3]) and np.isfinite(X[21]).all()


def test_har_ols_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(0)
    rv = np.abs(rng.standard_normal(3000)) + 0.5
    X = har_design(rv)
    coef = np.array([0.2, 0.3, 0.25, 0.15])
    y = X @ coef  # an exact HAR relation: OLS must recover it
    model = HARModel.fit(X, y)
    np.testing.assert_allclose(model.coef, coef, atol=1e-10)
    assert np.all(model.predict(X[21:]) >= model.floor)


def test_garch_fit_matches_arch_and_its_forecast(returns: np.ndarray) -> None:
    fit = fit_garch(returns)
    assert 0 < fit.alpha < 0.3 and 0.6 < fit.beta < 1 and fit.alpha + fit.beta < 1
    ref = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    res = ref.fit(disp="off")
    nv = fit.next_variance(returns)
    # Our forward filter reproduces arch's conditional variances and its 1-step forecast.
    np.testing.assert_allclose(nv[:-1], res.conditional_volatility[1:] ** 2, rtol=1e-8)
    assert nv[-1] == pytest.approx(res.forecast(horizon=1).variance.values[-1, 0], rel=1e-8)


def test_garch_var_uses_the_standardised_t_quantile(returns: np.ndarray) -> None:
    fit = fit_garch(returns)
    var = fit.value_at_risk(np.array([1.0, 4.0]))
    assert var[1] + fit.mu == pytest.approx(2 * (var[0] + fit.mu))
    # Standardised t has fatter tails than the normal at 99 %.
    assert var[0] + fit.mu > normal_value_at_risk(np.array([1.0]))[0]


def test_ewma_recursion_hand_computed() -> None:
    r = np.array([1.0, -2.0, 0.5])
    s0 = np.mean(r**2)
    s1 = EWMA_LAMBDA * s0 + (1 - EWMA_LAMBDA) * 1.0
    s2 = EWMA_LAMBDA * s1 + (1 - EWMA_LAMBDA) * 4.0
    s3 = EWMA_LAMBDA * s2 + (1 - EWMA_LAMBDA) * 0.25
    np.testing.assert_allclose(ewma_next_variance(r), [s1, s2, s3])


def test_normal_var_known_value() -> None:
    assert normal_value_at_risk(np.array([4.0]))[0] == pytest.approx(2 * 2.3263479, rel=1e-6)
