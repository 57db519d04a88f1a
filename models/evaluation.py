"""Rolling-origin out-of-sample evaluation, forecast losses and VaR backtests.

Losses (variances in percent squared):
- QLIKE (Patton 2011): ``RV/h - ln(RV/h) - 1``, robust to noise in the realized-variance proxy.
- MSE of log volatility: ``(ln sqrt(RV) - ln sqrt(h))^2``.
VaR backtests on the breach indicator ``r_{t+1} < -VaR_t``:
- Kupiec (1995) proportion of failures, LR ~ chi2(1).
- Christoffersen (1998) independence (first-order Markov), LR ~ chi2(1).
- Diebold-Mariano (1995) test of equal forecast loss, with a Newey-West variance.

Rolling origin: the sample is cut into blocks of `refit_every` rows after the first `min_train`;
before each block every model is refitted on the rows whose outcome is already known (expanding
window), then forecasts the block. Nothing is fitted on data from the future.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from scipy.special import xlogy

from models.baselines import (
    HARModel,
    ewma_next_variance,
    fit_garch,
    har_design,
    normal_value_at_risk,
)
from models.data import PriceSeries
from models.features import MIN_HISTORY, build_features, feature_table
from models.risk import RiskModel, train_risk
from models.volatility import VolatilityModel, train_volatility

VOL_MODELS = ("vol-mlp", "vol-linear", "har-rv", "garch", "ewma")
VAR_MODELS = ("risk-mlp", "risk-linear", "garch-t", "ewma-normal")


@dataclass(frozen=True)
class TestResult:
    """A likelihood-ratio (or t) statistic and its p-value."""

    statistic: float
    pvalue: float


def qlike(realized_var: np.ndarray, forecast_var: np.ndarray) -> float:
    """Mean QLIKE loss (0 for a perfect forecast)."""
    ratio = np.asarray(realized_var, dtype=np.float64) / np.asarray(forecast_var, dtype=np.float64)
    return float(np.mean(ratio - np.log(ratio) - 1.0))


def qlike_series(realized_var: np.ndarray, forecast_var: np.ndarray) -> np.ndarray:
    """Per-day QLIKE losses."""
    ratio = np.asarray(realized_var, dtype=np.float64) / np.asarray(forecast_var, dtype=np.float64)
    return ratio - np.log(ratio) - 1.0


def mse_logvol(realized_logvol: np.ndarray, forecast_logvol: np.ndarray) -> float:
    """Mean squared error of log volatility."""
    d = np.asarray(realized_logvol, dtype=np.float64) - np.asarray(forecast_logvol)
    return float(np.mean(d * d))


def kupiec_pof(breaches: np.ndarray, p: float = 0.01) -> TestResult:
    """Kupiec's proportion-of-failures LR test that the breach rate equals `p`."""
    b = np.asarray(breaches, dtype=bool)
    n, x = b.size, int(b.sum())
    phat = x / n
    log_l0 = xlogy(n - x, 1.0 - p) + xlogy(x, p)
    log_l1 = xlogy(n - x, 1.0 - phat) + xlogy(x, phat)
    lr = float(max(0.0, -2.0 * (log_l0 - log_l1)))
    return TestResult(lr, float(stats.chi2.sf(lr, 1)))


def christoffersen_independence(breaches: np.ndarray) -> TestResult:
    """Christoffersen's LR test that a breach today does not change tomorrow's breach odds."""
    b = np.asarray(breaches, dtype=int)
    prev, nxt = b[:-1], b[1:]
    n00 = int(np.sum((prev == 0) & (nxt == 0)))
    n01 = int(np.sum((prev == 0) & (nxt == 1)))
    n10 = int(np.sum((prev == 1) & (nxt == 0)))
    n11 = int(np.sum((prev == 1) & (nxt == 1)))
    pi01 = n01 / max(n00 + n01, 1)
    pi11 = n11 / max(n10 + n11, 1)
    pi = (n01 + n11) / max(n00 + n01 + n10 + n11, 1)
    log_l0 = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    log_l1 = xlogy(n00, 1.0 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1.0 - pi11)
    log_l1 += xlogy(n11, pi11)
    lr = float(max(0.0, -2.0 * (log_l0 - log_l1)))
    return TestResult(lr, float(stats.chi2.sf(lr, 1)))


BASEL_WINDOW = 250  # days of the Basel backtest (and of RiskOracle's on-chain ledger)
# Basel's tails at 250 days: P(X >= 5) and P(X >= 10), X ~ Bin(250, 1 %): yellow and red.
_YELLOW_TAIL = float(stats.binom.sf(4, BASEL_WINDOW, 0.01))
_RED_TAIL = float(stats.binom.sf(9, BASEL_WINDOW, 0.01))


def var_breaches(next_return: np.ndarray, var: np.ndarray) -> np.ndarray:
    """The breach rule, on and off chain: the next day's return (percent) below minus the VaR."""
    return np.asarray(next_return, dtype=np.float64) < -np.asarray(var, dtype=np.float64)


def traffic_light(days: int, breaches: int) -> str:
    """Basel zone of `breaches` in `days` (<= 250) scored days of a 99 % VaR, as RiskOracle's
    `zoneOf`: at 250 days green <= 4, yellow 5-9, red >= 10; with fewer days the boundaries
    keep Basel's tail probabilities at 250 days (P(X >= x) <= 10.78 % yellow, <= 0.025 % red)."""
    if breaches <= 0:
        return "green"
    tail = float(stats.binom.sf(breaches - 1, days, 0.01))
    if tail <= _RED_TAIL * (1 + 1e-9):
        return "red"
    return "yellow" if tail <= _YELLOW_TAIL * (1 + 1e-9) else "green"


def var_backtest(next_return: np.ndarray, var: np.ndarray) -> dict:
    """Breach rate, Kupiec and Christoffersen p over the whole series, and the zone of its last
    250 days (what the on-chain ledger would show after publishing it day by day)."""
    breaches = var_breaches(next_return, var)
    pof, ind = kupiec_pof(breaches, 0.01), christoffersen_independence(breaches)
    window = breaches[-BASEL_WINDOW:]
    return {
        "breaches": int(breaches.sum()),
        "days": int(breaches.size),
        "breach_rate": float(breaches.mean()) if breaches.size else 0.0,
        "kupiec_lr": pof.statistic,
        "kupiec_p": pof.pvalue,
        "christoffersen_lr": ind.statistic,
        "christoffersen_p": ind.pvalue,
        "zone": traffic_light(int(window.size), int(window.sum())),
        "zone_breaches": int(window.sum()),
        "zone_days": int(window.size),
    }


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, lags: int = 5) -> TestResult:
    """DM t-statistic of mean(loss_a - loss_b) (negative: a is better), Newey-West variance."""
    d = np.asarray(loss_a, dtype=np.float64) - np.asarray(loss_b, dtype=np.float64)
    n = d.size
    u = d - d.mean()
    var = u @ u / n
    for k in range(1, lags + 1):
        var += 2.0 * (1.0 - k / (lags + 1)) * (u[k:] @ u[:-k]) / n
    stat = float(d.mean() / np.sqrt(var / n))
    return TestResult(stat, float(2.0 * stats.norm.sf(abs(stat))))


# --- rolling origin ----------------------------------------------------------------------------


@dataclass
class RollingForecasts:
    """Out-of-sample forecasts of every model for day t+1, one row per forecast day t."""

    name: str
    dates: np.ndarray
    realized_logvol: np.ndarray
    next_return: np.ndarray
    variance: dict[str, np.ndarray] = field(default_factory=dict)  # percent^2
    var99: dict[str, np.ndarray] = field(default_factory=dict)  # positive percent
    refits: int = 0
    fit_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def realized_var(self) -> np.ndarray:
        return np.exp(2.0 * self.realized_logvol)


def rolling_origin_forecasts(
    series: PriceSeries,
    *,
    min_train: int = 1000,
    refit_every: int = 250,
    seed: int = 0,
    epochs: int = 300,
    hidden: int = 8,
) -> RollingForecasts:
    """Expanding-window forecasts of every model in `VOL_MODELS` and `VAR_MODELS`."""
    feats = build_features(series)
    n = len(feats)
    if n <= min_train:
        raise ValueError(f"{series.name}: {n} feature rows, need more than min_train={min_train}")
    _, logvol, ret = feature_table(series)
    rv = np.exp(2.0 * logvol)  # floored realized variance, the same proxy as the target
    day = np.arange(MIN_HISTORY - 1, MIN_HISTORY - 1 + n)  # series day of each feature row
    har_x = har_design(rv)[day]
    out = RollingForecasts(
        name=series.name,
        dates=feats.dates[min_train:],
        realized_logvol=feats.target_logvol[min_train:],
        next_return=feats.next_return[min_train:],
    )
    n_out = n - min_train
    for key in (*VOL_MODELS, *VAR_MODELS):
        (out.variance if key in VOL_MODELS else out.var99)[key] = np.empty(n_out)
        out.fit_seconds[key] = 0.0
    ewma = ewma_next_variance(ret[1:])[day - 1]  # returns start at day 1
    out.variance["ewma"][:] = ewma[min_train:]
    out.var99["ewma-normal"][:] = normal_value_at_risk(out.variance["ewma"])

    for origin in range(min_train, n, refit_every):
        block = slice(origin, min(origin + refit_every, n))
        dst = slice(block.start - min_train, block.stop - min_train)
        out.refits += 1
        # Rows < origin have outcomes (day t+1 <= day of row `origin`) known at the origin.
        train, Xb = feats.slice(0, origin), feats.X[block]
        for key, h in (("vol-mlp", hidden), ("vol-linear", 0)):
            t0 = time.perf_counter()
            vol_model = VolatilityModel(feats.X.shape[1], h)
            train_volatility(vol_model, train.X, train.target_logvol, epochs=epochs, seed=seed)
            out.fit_seconds[key] += time.perf_counter() - t0
            out.variance[key][dst] = np.exp(2.0 * vol_model.predict(Xb))
        for key, h in (("risk-mlp", hidden), ("risk-linear", 0)):
            t0 = time.perf_counter()
            risk_model = RiskModel(feats.X.shape[1], h)
            train_risk(risk_model, train.X, train.next_return, epochs=2 * epochs, seed=seed)
            out.fit_seconds[key] += time.perf_counter() - t0
            out.var99[key][dst] = risk_model.predict(Xb)
        t0 = time.perf_counter()
        har = HARModel.fit(har_x[:origin], feats.target_rv[:origin])
        out.fit_seconds["har-rv"] += time.perf_counter() - t0
        out.variance["har-rv"][dst] = har.predict(har_x[block])
        # GARCH sees the returns of days 1 .. day[origin] (known at the forecast origin).
        t0 = time.perf_counter()
        garch = fit_garch(ret[1 : day[origin] + 1])
        out.fit_seconds["garch"] += time.perf_counter() - t0
        nv = garch.next_variance(ret[1:])[day[block] - 1]
        out.variance["garch"][dst] = nv
        out.var99["garch-t"][dst] = garch.value_at_risk(nv)
    return out


def evaluate(fc: RollingForecasts, reference: str = "garch") -> dict:
    """Loss table (QLIKE, MSE log vol, DM vs `reference`) and VaR backtests of every model."""
    rvar = fc.realized_var
    vol = {}
    ref_loss = qlike_series(rvar, fc.variance[reference])
    for key, h in fc.variance.items():
        losses = qlike_series(rvar, h)
        dm = diebold_mariano(losses, ref_loss) if key != reference else TestResult(0.0, 1.0)
        vol[key] = {
            "qlike": float(losses.mean()),
            "mse_logvol": mse_logvol(fc.realized_logvol, 0.5 * np.log(h)),
            f"dm_vs_{reference}": dm.statistic,
            f"dm_vs_{reference}_p": dm.pvalue,
        }
    var = {}
    for key, v in fc.var99.items():
        var[key] = var_backtest(fc.next_return, v) | {"mean_var": float(np.mean(v))}
    return {"volatility": vol, "var": var}


# --- one train/test cut -----------------------------------------------------------------------


def holdout_baselines(series: PriceSeries, cut: int) -> RollingForecasts:
    """HAR-RV, GARCH(1,1)-t and EWMA forecasts for the feature rows from `cut` on, every model
    fitted only on what is known at row `cut` (rows < cut and their outcomes).

    Add the forecasts under test to `variance` / `var99` and score with `evaluate`.
    """
    feats = build_features(series)
    n = len(feats)
    if not 0 < cut < n:
        raise ValueError(f"{series.name}: cut {cut} outside the {n} feature rows")
    _, logvol, ret = feature_table(series)
    rv = np.exp(2.0 * logvol)
    day = np.arange(MIN_HISTORY - 1, MIN_HISTORY - 1 + n)  # series day of each feature row
    har_x = har_design(rv)[day]
    har = HARModel.fit(har_x[:cut], feats.target_rv[:cut])
    garch = fit_garch(ret[1 : day[cut] + 1])  # returns up to row cut's own day
    garch_var = garch.next_variance(ret[1:])[day[cut:] - 1]
    ewma = ewma_next_variance(ret[1:])[day[cut:] - 1]
    return RollingForecasts(
        name=series.name,
        dates=feats.dates[cut:],
        realized_logvol=feats.target_logvol[cut:],
        next_return=feats.next_return[cut:],
        variance={"har-rv": har.predict(har_x[cut:]), "garch": garch_var, "ewma": ewma},
        var99={
            "garch-t": garch.value_at_risk(garch_var),
            "ewma-normal": normal_value_at_risk(ewma),
        },
        refits=1,
    )
