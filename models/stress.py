"""Seeded crypto-like stress series: GARCH volatility clustering, jumps and a crash regime.

Daily returns follow a GARCH(1,1) with Student-t shocks. Poisson jumps (mostly down) hit a few
days a year, and for `crash_days` days starting at `crash_start` the volatility is multiplied by
`crash_multiplier` with a negative drift: the black-swan regime that risk models must survive.
Each day is simulated as `steps_per_day` intraday Brownian steps (crypto trades 24/7, so the open
is the previous close), which gives consistent open/high/low/close bars.
"""

from __future__ import annotations

import numpy as np

from models.data import PriceSeries


def generate_stress_series(
    seed: int,
    n_days: int = 2000,
    name: str = "stress",
    *,
    start: str = "2018-01-01",
    crash_start: int | None = None,
    crash_days: int = 60,
    crash_multiplier: float = 4.0,
    jumps_per_year: float = 6.0,
    steps_per_day: int = 48,
) -> PriceSeries:
    """A reproducible OHLCV series of `n_days` consecutive calendar days.

    GARCH(1,1) on daily returns (omega, alpha, beta = 0.4, 0.10, 0.87 in percent^2, i.e. about
    3.6 %/day unconditional vol, like BTC), t(4) shocks, jumps of mean size -8 % and a crash
    regime (default: the 60 days starting at 70 % of the sample).
    """
    if n_days < 2:
        raise ValueError(f"n_days must be at least 2, got {n_days}")
    rng = np.random.default_rng(seed)
    omega, alpha, beta, nu = 0.4, 0.10, 0.87, 4.0
    crash_at = int(0.7 * n_days) if crash_start is None else crash_start
    in_crash = np.zeros(n_days, bool)
    in_crash[crash_at : crash_at + crash_days] = True

    sigma2 = omega / (1.0 - alpha - beta)
    prev_shock = 0.0
    close = np.empty(n_days)
    open_ = np.empty(n_days)
    high = np.empty(n_days)
    low = np.empty(n_days)
    volume = np.empty(n_days)
    price = 10_000.0
    t_scale = np.sqrt((nu - 2.0) / nu)  # unit-variance Student-t
    for t in range(n_days):
        sigma2 = omega + alpha * prev_shock**2 + beta * sigma2
        mult = crash_multiplier if in_crash[t] else 1.0
        vol = np.sqrt(sigma2) * mult
        drift = -0.4 * vol if in_crash[t] else 0.0
        shock = rng.standard_t(nu) * t_scale * vol
        jump = 0.0
        if rng.random() < jumps_per_year / 365.0:
            jump = rng.normal(-8.0, 6.0)
        ret_pct = drift + shock + jump
        prev_shock = shock / mult + jump  # the GARCH recursion sees base shocks and jumps
        # Intraday path with the day's return: Brownian bridge scaled to the day's vol.
        steps = rng.standard_normal(steps_per_day) * vol / np.sqrt(steps_per_day)
        path = np.cumsum(steps)
        path = path - np.linspace(0.0, 1.0, steps_per_day) * (path[-1] - ret_pct)
        log_path = np.log(price) + np.r_[0.0, path] / 100.0
        open_[t] = price
        high[t] = np.exp(log_path.max())
        low[t] = np.exp(log_path.min())
        price = np.exp(log_path[-1])
        close[t] = price
        high[t] = max(high[t], open_[t], close[t])
        low[t] = min(low[t], open_[t], close[t])
        volume[t] = 1_000.0 * (1.0 + abs(ret_pct)) * rng.lognormal(0.0, 0.3)
    dates = np.datetime64(start, "D") + np.arange(n_days)
    return PriceSeries(
        name=name, dates=dates, open=open_, high=high, low=low, close=close, volume=volume
    )
