"""Classical baselines a risk team would use: HAR-RV (OLS), GARCH(1,1) and RiskMetrics EWMA.

All work on the units of `models.features`: returns in percent, variances in percent squared.
Each forecast is for day t+1 from information up to day t; fitting uses only the rows given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from arch import arch_model
from scipy import stats

from models.features import HAR_MONTH, HAR_WEEK, trailing_mean

EWMA_LAMBDA = 0.94  # RiskMetrics (J.P. Morgan 1996), daily data
BACKCAST_DAYS = 75  # as arch does: start a recursion at an average of the first squared returns


# --- HAR-RV (Corsi 2009) ---


def har_design(rv: np.ndarray) -> np.ndarray:
    """HAR regressors of every day ``[n, 4]``: 1, RV_d, RV_w (5-day mean), RV_m (22-day mean)."""
    rv = np.asarray(rv, dtype=np.float64)
    return np.column_stack(
        [np.ones_like(rv), rv, trailing_mean(rv, HAR_WEEK), trailing_mean(rv, HAR_MONTH)]
    )


@dataclass(frozen=True)
class HARModel:
    """HAR-RV in levels: RV_{t+1} = b0 + b_d RV_t + b_w RV_w,t + b_m RV_m,t + e, fitted by OLS."""

    coef: np.ndarray  # (b0, b_d, b_w, b_m)
    floor: float  # forecasts are floored here (an OLS line can go negative)

    @classmethod
    def fit(cls, design: np.ndarray, next_rv: np.ndarray) -> HARModel:
        """OLS of next-day RV on `har_design` rows (rows with NaN are skipped)."""
        ok = np.isfinite(design).all(axis=1) & np.isfinite(next_rv)
        coef, *_ = np.linalg.lstsq(design[ok], next_rv[ok], rcond=None)
        return cls(coef=coef, floor=float(np.min(next_rv[ok])))

    def predict(self, design: np.ndarray) -> np.ndarray:
        """Next-day variance forecasts for `har_design` rows."""
        return np.maximum(design @ self.coef, self.floor)


# --- GARCH(1,1) via arch ---


@dataclass(frozen=True)
class GarchFit:
    """GARCH(1,1) with constant mean and Student-t shocks, as estimated by `arch`."""

    mu: float
    omega: float
    alpha: float
    beta: float
    nu: float
    backcast: float

    def next_variance(self, returns: np.ndarray) -> np.ndarray:
        """sigma^2_{t+1} for every t, filtering `returns` (from the fit's first day) forward."""
        e = np.asarray(returns, dtype=np.float64) - self.mu
        sigma2 = np.empty_like(e)
        sigma2[0] = self.omega + (self.alpha + self.beta) * self.backcast
        for t in range(1, len(e)):
            sigma2[t] = self.omega + self.alpha * e[t - 1] ** 2 + self.beta * sigma2[t - 1]
        return self.omega + self.alpha * e**2 + self.beta * sigma2

    def value_at_risk(self, next_variance: np.ndarray, level: float = 0.99) -> np.ndarray:
        """VaR (positive, percent) from variance forecasts and the unit-variance t quantile."""
        q = stats.t.ppf(1.0 - level, self.nu) * np.sqrt((self.nu - 2.0) / self.nu)
        return -(self.mu + np.sqrt(next_variance) * q)


def fit_garch(returns: np.ndarray) -> GarchFit:
    """Estimate GARCH(1,1)-t on percent returns (all of them: pass only the past)."""
    r = np.asarray(returns, dtype=np.float64)
    model = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    res = model.fit(disp="off", show_warning=False)
    p = res.params
    backcast = float(model.volatility.backcast(r - r.mean()))  # as arch starts its recursion
    return GarchFit(
        mu=float(p["mu"]),
        omega=float(p["omega"]),
        alpha=float(p["alpha[1]"]),
        beta=float(p["beta[1]"]),
        nu=float(p["nu"]),
        backcast=backcast,
    )


# --- EWMA (RiskMetrics) ---


def ewma_next_variance(returns: np.ndarray, lam: float = EWMA_LAMBDA) -> np.ndarray:
    """sigma^2_{t+1} = lam sigma^2_t + (1 - lam) r_t^2 for every t (zero mean, RiskMetrics).

    The recursion starts at the mean of the first `BACKCAST_DAYS` squared returns.
    """
    r2 = np.asarray(returns, dtype=np.float64) ** 2
    out = np.empty_like(r2)
    s = float(np.mean(r2[:BACKCAST_DAYS]))
    for t in range(len(r2)):
        s = lam * s + (1.0 - lam) * r2[t]
        out[t] = s
    return out


def normal_value_at_risk(next_variance: np.ndarray, level: float = 0.99) -> np.ndarray:
    """Zero-mean normal VaR (positive, percent): z_{level} * sigma (RiskMetrics)."""
    return stats.norm.ppf(level) * np.sqrt(next_variance)
