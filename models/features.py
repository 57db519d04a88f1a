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
does not otherwise see a level) and ``var_fhs`` (the VaR model's input).

``var_fhs`` is a filtered-historical-simulation 99 % VaR (percent) computed from the feed's own
bars, so every feed is calibrated on its own tail and attesters recompute it like any feature:

- a filter ``s_t^2``: the EWMA (lambda `FHS_LAMBDA`, the last `FHS_EWM_DAYS` days) of
  ``max(RV, r^2)`` with down days counted ``1 + FHS_DOWN_WEIGHT`` times (leverage);
- scores ``L_u = max(-r_u, 0) / s_{u-1}``: day u's loss in units of the filter known the day before;
- ``Q_t``: the 99 % quantile of the scores of the last `FHS_WINDOW` days, shrunk to the prior
  `FHS_PRIOR` (the pooled quantile of the providers' training rows) when fewer days are known:
  ``Q = (k q_k + (N - k) prior) / N`` for k >= `FHS_MIN_SCORES` scores, the prior below that;
- ``var_fhs_t = s_t Q_t``.

Every piece is non-decreasing in the size of the newest day's moves (range, or all of its
moves scaled up) and in a larger loss: ``max(RV, r^2)`` grows, the newest score grows (or stays
0 on an up day) and a quantile never falls when one of its points rises. A feed with fewer bars
than `HISTORY_BARS` still gets the feature: the filter runs over the days there are (weights
renormalised) and the quantile leans on the prior.
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

# Filtered historical simulation (`var_fhs`). The filter's decay and down-day weight minimise the
# pooled relative pinball loss of kappa * var_fhs on the training rows (first 70 %) of the six
# bundled providers (grid lambda 0.6..0.9 x weight 1..6; flat within 0.3 % for weights >= 3),
# never chosen on test rows.
FHS_LAMBDA = 0.75
FHS_EWM_DAYS = 30  # 0.75^30 = 0.02 %: the truncated tail of the weights
FHS_DOWN_WEIGHT = 6.0  # a down day's variance counts 7 times in the filter (leverage)
FHS_WINDOW = 500  # scores per quantile: two years of days, five beyond the 99 % level
FHS_MIN_SCORES = 50  # fewer scores than this: the quantile is the prior alone
FHS_PRIOR = 1.5  # pooled 99 % score quantile, six bundled providers' training rows (1.53)
FHS_LEVEL = 0.99

FEATURE_NAMES: tuple[str, ...] = (
    "logvol_d_rel",  # HAR daily component: log vol of day t, minus b
    "logvol_w_rel",  # HAR weekly component: mean log vol over days t-4..t, minus b
    "logvol_m_rel",  # HAR monthly component: mean log vol over days t-21..t, minus b
    "var_fhs",  # LEVEL: filtered-historical-simulation 99 % VaR of day t+1 (percent)
    "ret_d_z",  # log return of day t, in units of exp(b)
    "ret_w_z",  # sum of log returns over days t-4..t, in units of exp(b)
    "logvol_ewm",  # LEVEL, the baseline b: log of the EWMA (lambda 0.94) of RV over days t-21..t
    "logvol_sd_m",  # standard deviation of daily log vol over days t-21..t (vol of vol)
)
BASELINE = FEATURE_NAMES.index("logvol_ewm")
VAR_FHS = FEATURE_NAMES.index("var_fhs")
LEVEL_FEATURES: tuple[int, ...] = (VAR_FHS, BASELINE)
SCALE_ONLY: tuple[int, ...] = (VAR_FHS,)  # normalised by std only: VaR = kappa * var_fhs, no bias
NUM_FEATURES = len(FEATURE_NAMES)

# Days of history needed before the first complete feature row (one day for the first return).
MIN_HISTORY = HAR_MONTH + 1
# Bars that determine every feature exactly (`var_fhs` reaches furthest back: FHS_WINDOW scores,
# each needing the filter of the day before over FHS_EWM_DAYS days, each day one return).
HISTORY_BARS = FHS_WINDOW + FHS_EWM_DAYS + 1


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


def fhs_filter(rv: np.ndarray, ret: np.ndarray) -> np.ndarray:
    """The FHS filter s_t (percent): EWMA of ``max(RV, r^2)`` with down days weighted up, over
    the last `FHS_EWM_DAYS` days (fewer at the start: weights renormalised); NaN on day 0."""
    x = np.maximum(rv, ret * ret) * np.where(ret < 0, 1.0 + FHS_DOWN_WEIGHT, 1.0)
    ok = ~np.isnan(x)
    w = FHS_LAMBDA ** np.arange(FHS_EWM_DAYS)
    num = np.convolve(np.where(ok, x, 0.0), w)[: len(x)]
    den = np.convolve(ok.astype(np.float64), w)[: len(x)]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.sqrt(np.maximum(var, VOL_FLOOR**2))


def fhs_quantile(scores: np.ndarray) -> np.ndarray:
    """Q_t from the scores of days t-FHS_WINDOW+1..t (NaN scores are days not known yet)."""
    n = len(scores)
    out = np.full(n, FHS_PRIOR)
    ok = ~np.isnan(scores)
    for t in range(min(n, FHS_WINDOW - 1)):  # short history: shrink to the prior
        win = scores[: t + 1][ok[: t + 1]]
        if win.size >= FHS_MIN_SCORES:
            q = float(np.quantile(win, FHS_LEVEL))
            out[t] = (win.size * q + (FHS_WINDOW - win.size) * FHS_PRIOR) / FHS_WINDOW
    if n >= FHS_WINDOW:
        view = np.lib.stride_tricks.sliding_window_view(scores, FHS_WINDOW)
        full = ~np.isnan(view).any(axis=1)
        q = np.quantile(np.where(full[:, None], view, 0.0), FHS_LEVEL, axis=1)
        k = (~np.isnan(view)).sum(axis=1)
        part = np.array(
            [
                np.quantile(v[~np.isnan(v)], FHS_LEVEL) if 0 < c < FHS_WINDOW else FHS_PRIOR
                for v, c in zip(view[~full], k[~full], strict=True)
            ]
        )
        q[~full] = np.where(
            k[~full] >= FHS_MIN_SCORES,
            (k[~full] * part + (FHS_WINDOW - k[~full]) * FHS_PRIOR) / FHS_WINDOW,
            FHS_PRIOR,
        )
        out[FHS_WINDOW - 1 :] = q
    return out


def fhs_var(rv: np.ndarray, ret: np.ndarray) -> np.ndarray:
    """The `var_fhs` column: filter times the feed's own 99 % score quantile (module doc)."""
    s = fhs_filter(rv, ret)
    scores = np.full(len(ret), np.nan)
    scores[1:] = np.maximum(-ret[1:], 0.0) / s[:-1]
    return s * fhs_quantile(scores)


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
            fhs_var(rv, ret),
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
    """Features of the series' last day, float32 ``[F]``: what the oracle proves a forecast on.

    The last `HISTORY_BARS` bars determine it exactly; with fewer (at least MIN_HISTORY) the
    VaR feature uses the days there are and leans on its prior (module doc)."""
    if len(series) < MIN_HISTORY:
        raise InsufficientHistoryError(
            f"{series.name}: {len(series)} days, need at least {MIN_HISTORY} for features"
        )
    X, _, _ = feature_table(series.slice(max(0, len(series) - HISTORY_BARS), None))
    return X[-1].astype(np.float32)
