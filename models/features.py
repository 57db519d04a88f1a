"""The one feature function shared by training and by the oracle node at inference.

Units are chosen so that every number is of order one (good for fixed-point circuits):
returns are log returns in percent, volatilities are daily volatilities in percent, and
"log vol" is the natural log of a daily volatility in percent (1 % a day -> 0.0).

Daily realized variance ``RV_t`` (percent squared) comes from one estimator per series:
- OHLC available: Garman-Klass on the day's range plus the squared overnight return
  ``ln(O_t / C_{t-1})``; it estimates the close-to-close variance, like ``r_t^2`` does, with
  far less noise.
- close only (e.g. WTI): close-to-close ``r_t^2``.
``logvol_t = 0.5 * ln(max(RV_t, VOL_FLOOR**2))``; the floor keeps zero-return days finite.

Row t of the feature matrix uses data up to and including day t only; the target of row t is
day t+1's log vol and ``next_return`` day t+1's return.

The features are scale-free around one baseline, ``logvol_ewm`` (the log of the RiskMetrics
EWMA volatility, b): log vols enter as differences from b and returns in units of exp(b). An
asset twice as volatile has the same scale-free features, so providers with different volatility
levels describe the same dynamics in the same numbers and pooling them helps instead of pulling a
shared model apart. Two level columns remain for the models that need a level: ``logvol_ewm``
itself (the volatility model's baseline: it predicts log vol as b plus a learned log ratio, and
does not otherwise see a level) and ``vol_w`` (the VaR model's scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.data import PriceSeries

# Daily volatility floor, in percent: one basis point.
VOL_FLOOR = 0.01

HAR_WEEK = 5
HAR_MONTH = 22
EWM_LAMBDA = 0.94  # RiskMetrics decay, over a finite HAR_MONTH window (exact, no warm-up state)

FEATURE_NAMES: tuple[str, ...] = (
    "logvol_d_rel",  # HAR daily component: log vol of day t, minus b
    "logvol_w_rel",  # HAR weekly component: mean log vol over days t-4..t, minus b
    "logvol_m_rel",  # HAR monthly component: mean log vol over days t-21..t, minus b
    "vol_w",  # LEVEL: mean daily vol (percent, not log) over days t-4..t
    "ret_d_z",  # log return of day t, in units of exp(b)
    "ret_w_z",  # sum of log returns over days t-4..t, in units of exp(b)
    "logvol_ewm",  # LEVEL, the baseline b: log of the EWMA (lambda 0.94) of RV over days t-21..t
    "logvol_sd_m",  # standard deviation of daily log vol over days t-21..t (vol of vol)
)
BASELINE = FEATURE_NAMES.index("logvol_ewm")
LEVEL_FEATURES: tuple[int, ...] = (FEATURE_NAMES.index("vol_w"), BASELINE)
NUM_FEATURES = len(FEATURE_NAMES)

# Days of history needed before the first complete feature row (one day for the first return).
MIN_HISTORY = HAR_MONTH + 1


class InsufficientHistoryError(ValueError):
    """A series is too short to compute features (names the series and the days needed)."""


@dataclass(frozen=True)
class Features:
    """Training rows of one series: features of day t and the outcomes of day t+1."""

    name: str
    dates: np.ndarray  # datetime64[D], day t of each row
    X: np.ndarray  # float32 [n, NUM_FEATURES]
    target_logvol: np.ndarray  # float64 [n], log vol of day t+1
    next_return: np.ndarray  # float64 [n], log return of day t+1 (percent)

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def target_rv(self) -> np.ndarray:
        """Realized variance of day t+1 (percent squared) = exp(2 * target_logvol)."""
        return np.exp(2.0 * self.target_logvol)

    def slice(self, start: int | None = None, stop: int | None = None) -> Features:
        """Rows [start, stop) as new Features."""
        s = slice(start, stop)
        return Features(
            self.name,
            self.dates[s],
            self.X[s],
            self.target_logvol[s],
            self.next_return[s],
        )


# --- realized-variance estimators (fractions of price, squared: multiply by 1e4 for %^2) -------


def close_to_close_variance(close: np.ndarray) -> np.ndarray:
    """Squared log return ``ln(C_t / C_{t-1})^2``; NaN for the first day."""
    r = np.diff(np.log(close))
    return np.r_[np.nan, r * r]


def parkinson_variance(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Parkinson (1980): ``ln(H/L)^2 / (4 ln 2)``."""
    u = np.log(high / low)
    return u * u / (4.0 * np.log(2.0))


def garman_klass_variance(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> np.ndarray:
    """Garman-Klass (1980): ``0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2`` (open-to-close)."""
    u = np.log(high / low)
    c = np.log(close / open_)
    return 0.5 * u * u - (2.0 * np.log(2.0) - 1.0) * c * c


def realized_variance(series: PriceSeries) -> np.ndarray:
    """Daily realized variance in percent squared (see module docstring); NaN on day 0."""
    if series.has_ohlc:
        overnight = np.r_[np.nan, np.log(series.open[1:] / series.close[:-1])]
        rv = garman_klass_variance(series.open, series.high, series.low, series.close)
        rv = rv + overnight * overnight
    else:
        rv = close_to_close_variance(series.close)
    return rv * 1e4


def log_returns(close: np.ndarray) -> np.ndarray:
    """Daily log returns in percent; NaN on day 0."""
    return np.r_[np.nan, 100.0 * np.diff(np.log(close))]


def trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of x[t-window+1..t]; NaN until the window is full or if it contains a NaN."""
    out = np.full(len(x), np.nan)
    if len(x) >= window:
        nan = np.isnan(x)
        c = np.cumsum(np.r_[0.0, np.where(nan, 0.0, x)])
        k = np.cumsum(np.r_[0, nan])
        full = (k[window:] - k[:-window]) == 0
        out[window - 1 :] = np.where(full, (c[window:] - c[:-window]) / window, np.nan)
    return out


def ewm_mean(x: np.ndarray, window: int, lam: float) -> np.ndarray:
    """Weighted mean of x[t-window+1..t] with weights lam**age (normalised); NaN until full."""
    w = lam ** np.arange(window)[::-1]  # oldest first, as the windows below are ordered
    out = np.full(len(x), np.nan)
    if len(x) >= window:
        out[window - 1 :] = np.lib.stride_tricks.sliding_window_view(x, window) @ (w / w.sum())
    return out


def feature_table(series: PriceSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of every day ``[n, F]`` (NaN during warm-up), log vol ``[n]``, returns ``[n]``."""
    rv = realized_variance(series)
    logvol = 0.5 * np.log(np.maximum(rv, VOL_FLOOR**2))
    ret = log_returns(series.close)
    b = 0.5 * np.log(np.maximum(ewm_mean(rv, HAR_MONTH, EWM_LAMBDA), VOL_FLOOR**2))
    sigma = np.exp(b)
    mean_m = trailing_mean(logvol, HAR_MONTH)
    X = np.column_stack(
        [
            logvol - b,
            trailing_mean(logvol, HAR_WEEK) - b,
            mean_m - b,
            trailing_mean(np.exp(logvol), HAR_WEEK),
            ret / sigma,
            trailing_mean(ret, HAR_WEEK) * HAR_WEEK / sigma,
            b,
            np.sqrt(np.maximum(trailing_mean(logvol * logvol, HAR_MONTH) - mean_m**2, 0.0)),
        ]
    )
    return X, logvol, ret


def build_features(series: PriceSeries) -> Features:
    """Training rows: day t's features with day t+1's log vol and return (no NaN anywhere).

    Rows are days MIN_HISTORY-1 .. n-2: the last day has no next day and is dropped
    (use `latest_features` for it).
    """
    if len(series) < MIN_HISTORY + 1:
        raise InsufficientHistoryError(
            f"{series.name}: {len(series)} days, need at least {MIN_HISTORY + 1} to build features"
        )
    X, logvol, ret = feature_table(series)
    rows = np.arange(MIN_HISTORY - 1, len(series) - 1)
    return Features(
        name=series.name,
        dates=series.dates[rows],
        X=X[rows].astype(np.float32),
        target_logvol=logvol[rows + 1],
        next_return=ret[rows + 1],
    )


def latest_features(series: PriceSeries) -> np.ndarray:
    """Features of the series' last day, float32 ``[F]``: what the oracle proves a forecast on."""
    if len(series) < MIN_HISTORY:
        raise InsufficientHistoryError(
            f"{series.name}: {len(series)} days, need at least {MIN_HISTORY} for features"
        )
    X, _, _ = feature_table(series.slice(max(0, len(series) - MIN_HISTORY), None))
    return X[-1].astype(np.float32)
