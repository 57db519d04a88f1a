"""Risk model: 1-day 99 % Value-at-Risk, and the margin / LTV formulas built on it.

`RiskModel` outputs VaR as a POSITIVE loss in percent of position value: the model's claim is
``P(r_{t+1} < -VaR_t) = 1 %`` with r the next day's log return in percent. It is

    VaR_t = max(VAR_FLOOR, kappa * var_fhs_t),   kappa = 1 + w

with ``var_fhs`` the feed's own filtered-historical-simulation VaR (`models.features`: a filter
times the 99 % quantile of the feed's past scores, so each feed is calibrated on its own tail)
and one learned scale kappa, fitted by quantile regression (pinball loss at q = 0.01 on -VaR)
on the pooled training rows: the pinball minimiser of a single scale is the pooled 99 %
quantile of ``-r / var_fhs``, i.e. a split-conformal correction, learned by the same loss and
the same loop in central and federated fits (FedSGD on the pooled loss; no separate step).
No bias and no hidden layer: the VaR is proportional to ``var_fhs`` (an asset twice as volatile
gets twice the VaR) and non-decreasing in it for kappa > 0, so in the size of the newest move.

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

from models.features import NUM_FEATURES, SCALE_ONLY, VAR_FHS, Features
from models.network import NormalisedNet, train_network

VAR_LEVEL = 0.99
QUANTILE = 1.0 - VAR_LEVEL
DEFAULT_HIDDEN = 0  # linear in var_fhs: monotone and scale-equivariant by construction
VAR_FLOOR = 0.05  # percent: the smallest VaR the model publishes
WEIGHT_DECAY = 1e-4  # the risk model's L2 penalty (central and federated fits)


class RiskModel(NormalisedNet):
    """Raw features ``[batch, F]`` -> 1-day 99 % VaR, positive, percent ``[batch, 1]``.

    ``VaR = kappa * var_fhs`` through the linear path (the column is the network's baseline and
    its only unmasked input; no bias, so ``kappa = 1 + w`` with w the one skip weight), clipped
    like every output and floored at `VAR_FLOOR` in the graph (``floor + relu(v - floor)``), so
    a published VaR is never zero or negative, even on inputs far from the training data.
    """

    kind = "risk"

    def __init__(self, n_features: int = NUM_FEATURES, hidden: int = DEFAULT_HIDDEN) -> None:
        if n_features != NUM_FEATURES:
            raise ValueError(f"the VaR head reads the standard {NUM_FEATURES} features")
        super().__init__(
            n_features,
            hidden,
            baseline=VAR_FHS,
            masked=tuple(j for j in range(n_features) if j != VAR_FHS),
            scale_only=SCALE_ONLY,
            skip_bias=False,
        )
        self.register_buffer("var_floor", torch.tensor([VAR_FLOOR]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.var_floor + torch.relu(super().forward(x) - self.var_floor)

    def output_floor(self) -> torch.Tensor:
        return self.var_floor

    def set_statistics(self, x_mean, x_std, x_min, x_max, y_shift=0.0, y_scale=1.0) -> None:
        """`NormalisedNet.set_statistics` with the output map the head's design fixes: shift 0,
        scale the std of ``var_fhs`` (so the skip weight w is kappa - 1 directly); the passed
        ``y_shift``/``y_scale`` are not used."""
        std = float(np.asarray(x_std, dtype=np.float64)[VAR_FHS])
        super().set_statistics(x_mean, x_std, x_min, x_max, 0.0, std if std > 1e-8 else 1.0)

    @property
    def kappa(self) -> float:
        """The learned scale on ``var_fhs``."""
        return 1.0 + float(self.skip.weight.detach()[0, VAR_FHS])


def pinball_loss(
    pred_quantile: torch.Tensor, target: torch.Tensor, q: float = QUANTILE, *, reduce: bool = True
) -> torch.Tensor:
    """Quantile (pinball) loss: mean of max(q (y - Q), (q - 1) (y - Q)) (per row if not
    ``reduce``)."""
    e = target - pred_quantile
    loss = torch.maximum(q * e, (q - 1.0) * e)
    return loss.mean() if reduce else loss


def var_pinball_loss(pred_var: torch.Tensor, next_return: torch.Tensor) -> torch.Tensor:
    """Pinball loss of the return quantile -VaR at q = 1 %."""
    return pinball_loss(-pred_var, next_return, QUANTILE)


def relative_var_pinball_loss(pred_var: torch.Tensor, next_return: torch.Tensor) -> torch.Tensor:
    """The training loss: each day's pinball loss in units of its own VaR (held fixed in the
    gradient), so a calm day and a crash day weigh the same.

    For ``VaR = kappa * var_fhs`` the minimiser is the pooled 99 % quantile of
    ``-r / var_fhs`` (equal weights: coverage counted in days), where the plain pinball loss
    would weight days by their volatility and let the high-volatility days set kappa.
    """
    return (pinball_loss(-pred_var, next_return, QUANTILE, reduce=False) / pred_var.detach()).mean()


def train_risk(
    model: RiskModel,
    X: np.ndarray,
    next_return: np.ndarray,
    *,
    epochs: int = 300,
    lr: float = 0.01,
    seed: int = 0,
    weight_decay: float = WEIGHT_DECAY,
    calibration_fraction: float = 0.0,
) -> RiskModel:
    """Fit kappa by quantile regression on all rows (the federated fit runs the same loss).

    ``calibration_fraction`` is accepted for old callers and must be 0: there is no separate
    calibration step any more (the per-feed calibration is in ``var_fhs``, the pooled one is
    kappa itself).
    """
    if calibration_fraction:
        raise ValueError("the VaR head has no separate calibration step (calibration_fraction=0)")
    X = np.asarray(X, dtype=np.float32)
    r = np.asarray(next_return, dtype=np.float64)
    model.set_normalisation(X, y_shift=0.0, y_scale=1.0)
    train_network(
        model,
        X,
        r,
        relative_var_pinball_loss,
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
    )
    return model


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
