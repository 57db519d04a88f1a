"""Volatility model: next-day log realized volatility from the shared features.

A `NormalisedNet` (linear HAR-style path + one small ReLU layer) trained with the QLIKE loss
(Patton 2011) on the implied variance ``h = exp(2 * output)``. QLIKE's minimiser is the
conditional expected variance, so the output is ``0.5 * ln E[RV_{t+1} | x_t]``: the log of the
daily volatility in percent that a variance forecast should use (not the median of log vol,
which an MSE-on-log fit would give and which under-predicts variance).

The output is the EWMA baseline b (`models.features.BASELINE`) plus a learned log ratio of
scale-free features: the network never sees a volatility level (`LEVEL_FEATURES` are masked),
so an untrained or fully regularised model forecasts the EWMA (times its average ratio to the
next day's variance), and assets at different levels train one shared ratio model.
"""

from __future__ import annotations

import numpy as np
import torch

from models.features import BASELINE, LEVEL_FEATURES, NUM_FEATURES, SCALE_ONLY, Features
from models.network import NormalisedNet, train_network

DEFAULT_HIDDEN = 8


class VolatilityModel(NormalisedNet):
    """Raw features ``[batch, F]`` -> next-day log vol (percent) ``[batch, 1]``."""

    kind = "volatility"

    def __init__(self, n_features: int = NUM_FEATURES, hidden: int = DEFAULT_HIDDEN) -> None:
        # the same normalisation as the VaR head (whose input it masks), so the two share clips
        super().__init__(
            n_features, hidden, baseline=BASELINE, masked=LEVEL_FEATURES, scale_only=SCALE_ONLY
        )


def log_ratio_target(X: np.ndarray, logvol: np.ndarray) -> np.ndarray:
    """What the network part learns: next-day log vol minus the baseline column (float64)."""
    return np.asarray(logvol, np.float64) - np.asarray(X, np.float64)[:, BASELINE]


def qlike_logvol_loss(pred_logvol: torch.Tensor, target_logvol: torch.Tensor) -> torch.Tensor:
    """QLIKE of realized variance ``exp(2 y)`` against the forecast ``exp(2 p)``."""
    d = torch.clamp(2.0 * (target_logvol - pred_logvol), max=30.0)
    return (torch.exp(d) - d - 1.0).mean()


WEIGHT_DECAY = 1e-2  # the volatility model's L2 penalty (central and federated fits)


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return ((pred - target) ** 2).mean()


def train_volatility(
    model: VolatilityModel,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 300,
    lr: float = 0.003,
    seed: int = 0,
    weight_decay: float = WEIGHT_DECAY,
    loss: str = "qlike",
) -> VolatilityModel:
    """Set the normalisation from (X, y) and train on next-day log vol `y` (QLIKE or MSE)."""
    y = np.asarray(y, dtype=np.float64)
    ratio = log_ratio_target(X, y)
    # Start at the baseline times its mean ratio: 0.5 ln mean(RV / b^2) for QLIKE.
    base = 0.5 * np.log(np.mean(np.exp(2.0 * ratio))) if loss == "qlike" else ratio.mean()
    model.set_normalisation(X, y_shift=base, y_scale=ratio.std())
    loss_fn = {"qlike": qlike_logvol_loss, "mse": mse_loss}[loss]
    train_network(model, X, y, loss_fn, epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed)
    return model


def fit_volatility(
    features: Features, seed: int = 0, *, hidden: int = DEFAULT_HIDDEN, **train_kwargs
) -> VolatilityModel:
    """Build and train a `VolatilityModel` on all rows of `features`."""
    model = VolatilityModel(features.X.shape[1], hidden)
    return train_volatility(model, features.X, features.target_logvol, seed=seed, **train_kwargs)
