"""Risk model: 1-day 99 % Value-at-Risk, and the margin / LTV formulas built on it.

`RiskModel` outputs VaR as a POSITIVE loss in percent of position value: the model's claim is
``P(r_{t+1} < -VaR_t) = 1 %`` with r the next day's log return in percent. It is a
`NormalisedNet` trained by quantile regression (pinball loss at q = 0.01 on -VaR).

Margin and haircut (fractions of position value), with VaR in percent:

    margin      = clip(multiplier * sqrt(horizon_days) * VaR / 100, floor, 1)
    ltv_haircut = clip(multiplier * sqrt(liquidation_days) * VaR / 100 + liquidation_penalty, 0, 1)
    max LTV     = 1 - ltv_haircut

The square-root-of-time rule scales the 1-day VaR to the days a position needs to be closed;
the multiplier (Basel uses 3 for model risk on 10-day VaR; 1.5 here by default) buys a buffer
against model error and the penalty covers the liquidator's bonus on a lending market.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from models.features import FEATURE_NAMES, NUM_FEATURES, Features
from models.network import NormalisedNet, train_network

VAR_LEVEL = 0.99
QUANTILE = 1.0 - VAR_LEVEL
DEFAULT_HIDDEN = 8
VAR_FLOOR = 0.05  # percent: the smallest VaR the model publishes
WEIGHT_DECAY = 1e-4  # the risk model's L2 penalty (central and federated fits)


class RiskModel(NormalisedNet):
    """Raw features ``[batch, F]`` -> 1-day 99 % VaR, positive, percent ``[batch, 1]``.

    The output is floored at `VAR_FLOOR` in the graph (``floor + relu(v - floor)``), so a
    published VaR is never zero or negative, even on inputs far from the training data.
    """

    kind = "risk"

    def __init__(self, n_features: int = NUM_FEATURES, hidden: int = DEFAULT_HIDDEN) -> None:
        super().__init__(n_features, hidden)
        self.register_buffer("var_floor", torch.tensor([VAR_FLOOR]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.var_floor + torch.relu(super().forward(x) - self.var_floor)

    def output_floor(self) -> torch.Tensor:
        return self.var_floor


def pinball_loss(
    pred_quantile: torch.Tensor, target: torch.Tensor, q: float = QUANTILE
) -> torch.Tensor:
    """Quantile (pinball) loss: mean of max(q (y - Q), (q - 1) (y - Q))."""
    e = target - pred_quantile
    return torch.maximum(q * e, (q - 1.0) * e).mean()


def var_pinball_loss(pred_var: torch.Tensor, next_return: torch.Tensor) -> torch.Tensor:
    """Pinball loss of the return quantile -VaR at q = 1 %."""
    return pinball_loss(-pred_var, next_return, QUANTILE)


def train_risk(
    model: RiskModel,
    X: np.ndarray,
    next_return: np.ndarray,
    *,
    epochs: int = 300,
    lr: float = 0.01,
    seed: int = 0,
    weight_decay: float = WEIGHT_DECAY,
    calibration_fraction: float = 0.2,
) -> RiskModel:
    """Fit VaR by quantile regression, then calibrate it on the most recent rows.

    The first ``1 - calibration_fraction`` of the rows (in time order) train the network; the
    rest calibrate it (`calibrate_var`). ``calibration_fraction=0`` skips the calibration.
    """
    X = np.asarray(X, dtype=np.float32)
    r = np.asarray(next_return, dtype=np.float64)
    n_cal = round(calibration_fraction * len(r))
    n_fit = len(r) - n_cal
    base = -np.quantile(r[:n_fit], QUANTILE)  # the unconditional (historical-simulation) VaR
    model.set_normalisation(X[:n_fit], y_shift=base, y_scale=r[:n_fit].std())
    train_network(
        model,
        X[:n_fit],
        r[:n_fit],
        var_pinball_loss,
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
    )
    if n_cal > 0:
        calibrate_var(model, X[n_fit:], r[n_fit:])
    return model


def calibrate_var(model: RiskModel, X: np.ndarray, next_return: np.ndarray) -> float:
    """Split-conformal calibration, scaled by recent volatility; returns the factor c.

    Scores ``s = (-r_{t+1} - VaR_t) / vol_w,t`` (vol_w: the 5-day mean daily vol feature);
    c = their finite-sample 99 % quantile, and the model becomes ``VaR + c * vol_w``, which
    breaches on about 1 % of exchangeable new days (normalised conformal quantile regression,
    Romano et al. 2019). Scaling by vol_w keeps the correction proportional to the regime, and
    additive scores stay bounded where a ratio -r / VaR would explode for a VaR near zero.
    The term is folded into the linear skip layer: the graph (and the circuit) is unchanged.
    Inputs whose vol_w column is not positive are not real features: nothing is changed, 0.
    """
    col = FEATURE_NAMES.index("vol_w")
    if model.n_features != len(FEATURE_NAMES):
        raise ValueError(f"calibration needs the {len(FEATURE_NAMES)} standard features")
    X = np.asarray(X, dtype=np.float32)
    vol = X[:, col].astype(np.float64)
    if not np.all(vol > 0):
        return 0.0  # not volatilities (e.g. synthetic inputs): leave the model uncalibrated
    scores = (-np.asarray(next_return, dtype=np.float64) - model.predict(X)) / vol
    level = min(1.0, VAR_LEVEL * (1.0 + 1.0 / scores.size))
    c = float(np.quantile(scores, level, method="higher"))
    with torch.no_grad():
        y_scale = float(model.y_scale)
        x_scale, x_shift = float(model.x_scale[col]), float(model.x_shift[col])
        model.skip.weight[0, col] += c / (y_scale * x_scale)
        model.skip.bias[0] += c * x_shift / y_scale
    return c


def fit_risk(
    features: Features, seed: int = 0, *, hidden: int = DEFAULT_HIDDEN, **train_kwargs
) -> RiskModel:
    """Build and train a `RiskModel` on all rows of `features`."""
    model = RiskModel(features.X.shape[1], hidden)
    return train_risk(model, features.X, features.next_return, seed=seed, **train_kwargs)


def margin_requirement(
    var: float, *, horizon_days: float = 1.0, multiplier: float = 1.5, floor: float = 0.01
) -> float:
    """Initial margin as a fraction of position value, from a 1-day VaR in percent."""
    if not math.isfinite(var) or var < 0:
        raise ValueError(f"VaR must be a finite non-negative percentage, got {var}")
    return min(1.0, max(floor, multiplier * math.sqrt(horizon_days) * var / 100.0))


def ltv_haircut(
    var: float,
    *,
    liquidation_days: float = 3.0,
    multiplier: float = 1.5,
    liquidation_penalty: float = 0.05,
) -> float:
    """Collateral haircut (fraction); the maximum loan-to-value is ``1 - ltv_haircut``."""
    if not math.isfinite(var) or var < 0:
        raise ValueError(f"VaR must be a finite non-negative percentage, got {var}")
    raw = multiplier * math.sqrt(liquidation_days) * var / 100.0 + liquidation_penalty
    return min(1.0, max(0.0, raw))
