"""What is learned, and how one provider learns it on its own data (Flower's `task.py`).

A provider is named by a data spec: `bundled:<name>` (a series shipped with the package),
`stress:<seed>` (a generated stress series), or a CSV path (OHLC or exchange klines). Its series
is turned into features by `models.features.build_features` -- the very function the oracle uses --
and split in time: the first `TRAIN_FRACTION` of days to train, the rest to evaluate.

Two models are trained together: `models.volatility.VolatilityModel` (QLIKE loss) and
`models.risk.RiskModel` (1-day 99% VaR, pinball loss), with the losses those modules define.
Only their trainable parameters travel; their input normalisation is set once from federated
aggregates (`feature_sums` -> `combine_sums` -> `normalisation_from_sums`), so no provider ever
reveals a row of data: sums, sums of squares and per-feature minimum and maximum. They are
written by `NormalisedNet.set_statistics`, the same writer central fits use, so the federated
model has the same clipped ranges as a central one. Feature mean/std/range and the volatility
model's output map are exactly the pooled values; the VaR head's output map is fixed by its
design (`RiskModel.set_statistics`: it starts at kappa = 1, VaR = var_fhs, and ignores the
risk entries of the statistics). Its one scale kappa is trained by the same loss as a central
fit (`relative_var_pinball_loss`), so FedSGD reaches the pooled split-conformal quantile with no
separate calibration round. Local training uses each model's own weight decay (`WEIGHT_DECAY`,
as its central fit does).
"""

from __future__ import annotations

import functools
import secrets
import warnings
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

TRAIN_FRACTION = 0.7
MODEL_NAMES = ("volatility", "risk")


class ProviderDataError(ValueError):
    """A provider's data spec names nothing loadable, or its series is unusable."""


@dataclass(frozen=True)
class ProviderData:
    """One provider's features, split in time into train and test."""

    name: str
    x_train: np.ndarray
    logvol_train: np.ndarray
    ret_train: np.ndarray
    x_test: np.ndarray
    logvol_test: np.ndarray
    ret_test: np.ndarray

    @property
    def num_train(self) -> int:
        """Training rows."""
        return len(self.x_train)


def load_series(spec: str, gap_policy: str | None = None):  # -> models.data.PriceSeries
    """Load the price series a data spec names (see module docstring); a file's gaps are handled
    by `gap_policy` (default `models.data.TRAINING_GAP_POLICY`, as `proofcast data inspect`)."""
    from models.data import (
        TRAINING_GAP_POLICY,
        load_bundled,
        load_klines_csv,
        load_ohlc_csv,
        read_csv_text,
    )
    from models.stress import generate_stress_series

    if spec.startswith("bundled:"):
        return load_bundled(spec.removeprefix("bundled:"))
    if spec.startswith("stress:"):
        seed_text = spec.removeprefix("stress:")
        if not seed_text.isdigit():
            raise ProviderDataError(f"stress spec needs an integer seed: {spec!r}")
        return generate_stress_series(int(seed_text), name=f"stress-{seed_text}")
    path = Path(spec)
    if not path.is_file():
        raise ProviderDataError(f"provider data file not found: {path}")
    text = read_csv_text(path)  # DataValidationError naming the file unless UTF-8
    head = text.splitlines()[0].lower() if text else ""
    policy = gap_policy or TRAINING_GAP_POLICY
    if "open_time" in head or "open time" in head:
        return load_klines_csv(path, gap_policy=policy)  # type: ignore[arg-type]
    return load_ohlc_csv(path, gap_policy=policy)  # type: ignore[arg-type]


def load_provider(spec: str, gap_policy: str | None = None) -> ProviderData:
    """Features of the series named by `spec`, split in time into train/test."""
    from models.features import build_features

    feats = build_features(load_series(spec, gap_policy))
    n = len(feats.X)
    cut = int(n * TRAIN_FRACTION)
    if cut < 50 or n - cut < 20:
        raise ProviderDataError(f"provider {spec!r}: {n} feature rows is too few to train on")
    x = np.asarray(feats.X, dtype=np.float32)
    y = np.asarray(feats.target_logvol, dtype=np.float32)
    r = np.asarray(feats.next_return, dtype=np.float32)
    return ProviderData(spec, x[:cut], y[:cut], r[:cut], x[cut:], y[cut:], r[cut:])


# --- The models and their federated normalisation --------------------------------------------

# Standard-normal 1% quantile: the pooled starting VaR is -(mean + Z_01 * std) of returns.
Z_01 = -2.3263478740408408


def record_dp_releases(rounds: int, local_epochs: int) -> int:
    """Gaussian releases each row of a provider takes part in under record-level DP-SGD: one
    per local step per network (both networks train on the same rows, each step its own
    clipped, noised and separately sampled gradient sum)."""
    return rounds * local_epochs * len(MODEL_NAMES)


def build_models(seed: int = 0) -> nn.ModuleDict:
    """Fresh volatility and risk models, deterministically initialised under `seed`."""
    from models.network import init_weights
    from models.risk import RiskModel
    from models.volatility import VolatilityModel

    kinds = {"volatility": VolatilityModel, "risk": RiskModel}
    models = nn.ModuleDict({name: kinds[name]() for name in MODEL_NAMES})
    for i, model in enumerate(models.values()):
        init_weights(model, seed + i)
    return models


def feature_sums(data: ProviderData) -> dict[str, np.ndarray]:
    """Count and sums over a provider's training rows (all it shares in round 0)."""
    from models.volatility import log_ratio_target

    x = data.x_train.astype(np.float64)
    y = log_ratio_target(x, data.logvol_train)  # what the volatility network learns
    r = data.ret_train.astype(np.float64)
    return {
        "count": np.array([len(x)], dtype=np.float64),
        "x_sum": x.sum(axis=0),
        "x_sumsq": (x**2).sum(axis=0),
        "x_min": x.min(axis=0),
        "x_max": x.max(axis=0),
        # log ratio to the baseline, its square, RV / baseline^2, return, return^2
        "y_sums": np.array([y.sum(), (y**2).sum(), np.exp(2 * y).sum(), r.sum(), (r**2).sum()]),
    }


# How each aggregate combines across providers (everything else is summed).
_COMBINE = {"x_min": np.min, "x_max": np.max}


def combine_sums(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Providers' `feature_sums` combined: sums added, minima and maxima taken."""
    return {k: _COMBINE.get(k, np.sum)([np.asarray(p[k]) for p in parts], axis=0) for k in parts[0]}


def normalisation_from_sums(sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pooled normalisation from summed `feature_sums`: exact means/stds, no rows needed."""
    n = float(np.asarray(sums["count"]).reshape(-1)[0])

    def std(total: np.ndarray | float, total_sq: np.ndarray | float) -> np.ndarray:
        mean = np.asarray(total) / n
        sd = np.sqrt(np.maximum(np.asarray(total_sq) / n - mean**2, 0.0))
        return np.where(sd > 1e-8, sd, 1.0)

    x_mean = np.asarray(sums["x_sum"]) / n
    x_std = std(sums["x_sum"], sums["x_sumsq"])
    y_sum, y_sumsq, rv_sum, r_sum, r_sumsq = np.asarray(sums["y_sums"], dtype=np.float64)
    r_std = float(std(r_sum, r_sumsq))
    y_shift = np.array([0.5 * np.log(rv_sum / n), -(r_sum / n + Z_01 * r_std)])
    y_scale = np.array([float(std(y_sum, y_sumsq)), r_std])
    return {
        "x_mean": x_mean,
        "x_std": x_std,
        "x_min": np.asarray(sums["x_min"], dtype=np.float64),
        "x_max": np.asarray(sums["x_max"], dtype=np.float64),
        "y_shift": y_shift,
        "y_scale": y_scale,
    }


# Round 0 without anyone's private rows (the published configuration, `normalisation = "public"`):
# the inputs' normalisation -- means, standard deviations, and the minima and maxima that become
# clip bounds -- is computed from public reference series, the training rows (first 70 %) of the
# bundled public market histories, so it is a public constant that no provider's data moves and
# no accountant needs to cover. ("federated": providers' exact sums instead, no DP on them.)
PUBLIC_REFERENCE = ("bundled:sp500", "bundled:wti", "bundled:aapl", "bundled:msft", "stress:7")


@functools.cache
def public_normalisation() -> dict[str, np.ndarray]:
    """The normalisation statistics of `PUBLIC_REFERENCE`'s training rows (pooled)."""
    return normalisation_from_sums(
        combine_sums([feature_sums(load_provider(spec)) for spec in PUBLIC_REFERENCE])
    )


_NORM_FEATURE_KEYS = ("x_mean", "x_std", "x_min", "x_max")


def normalisation_to_bytes(norm: dict[str, np.ndarray]) -> bytes:
    """Pack normalisation statistics for a ConfigRecord (float64, fixed order)."""
    parts = [*(norm[k] for k in _NORM_FEATURE_KEYS), norm["y_shift"], norm["y_scale"]]
    return np.concatenate([np.asarray(p, np.float64).reshape(-1) for p in parts]).tobytes()


def normalisation_from_bytes(blob: bytes) -> dict[str, np.ndarray]:
    """Inverse of `normalisation_to_bytes`."""
    v = np.frombuffer(blob, dtype=np.float64).copy()
    f = (len(v) - 4) // len(_NORM_FEATURE_KEYS)
    out = {k: v[i * f : (i + 1) * f] for i, k in enumerate(_NORM_FEATURE_KEYS)}
    return out | {"y_shift": v[-4:-2], "y_scale": v[-2:]}


def set_normalisation(models: nn.ModuleDict, norm: dict[str, np.ndarray]) -> None:
    """Write pooled statistics into both models (`NormalisedNet.set_statistics`)."""
    for i, model in enumerate(models.values()):
        model.set_statistics(
            norm["x_mean"],
            norm["x_std"],
            norm["x_min"],
            norm["x_max"],
            float(norm["y_shift"][i]),
            float(norm["y_scale"][i]),
        )


def trainable_names(models: nn.ModuleDict) -> list[str]:
    """Names of the parameters that travel (buffers stay put), in a fixed order."""
    return [name for name, _ in models.named_parameters()]


def get_trainable(models: nn.ModuleDict) -> dict[str, np.ndarray]:
    """The trainable parameters as numpy arrays (copies)."""
    return {n: p.detach().cpu().numpy().copy() for n, p in models.named_parameters()}


def set_trainable(models: nn.ModuleDict, arrays: dict[str, np.ndarray]) -> None:
    """Load trainable parameters by name; every parameter must be present."""
    params = dict(models.named_parameters())
    missing = set(params) - set(arrays)
    if missing:
        raise KeyError(f"parameters missing from update: {sorted(missing)}")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(torch.as_tensor(np.asarray(arrays[name]), dtype=p.dtype).reshape(p.shape))


# --- Local training and evaluation (the visible loop) ----------------------------------------


def train_local(
    models: nn.ModuleDict,
    data: ProviderData,
    *,
    epochs: int,
    lr: float,
    seed: int,
    optimizer: str = "adam",
    record_dp: RecordDP | None = None,
    dp_seed: int | None = None,
) -> dict[str, float]:
    """`epochs` full-batch Adam (or SGD, under a server optimizer) steps on this provider's rows,
    starting from the global weights; with `record_dp`, `epochs` DP-SGD steps (`dp_sgd_step`)
    at learning rate `lr`. Their sampling and noise come from OS entropy unless `dp_seed` is
    given (benchmarks only: noise anyone can regenerate protects nothing).

    Unlike `models.network.train_network` this does not re-initialise: it continues from the
    weights the server sent. Fresh optimiser state each round (clients are stateless).
    """
    from models.network import continue_training
    from models.risk import WEIGHT_DECAY as RISK_WEIGHT_DECAY
    from models.risk import relative_var_pinball_loss
    from models.volatility import WEIGHT_DECAY as VOLATILITY_WEIGHT_DECAY
    from models.volatility import qlike_logvol_loss

    torch.manual_seed(seed)
    x = torch.as_tensor(data.x_train)
    jobs = {
        "volatility": (
            qlike_logvol_loss,
            torch.as_tensor(data.logvol_train).reshape(-1, 1),
            VOLATILITY_WEIGHT_DECAY,
        ),
        "risk": (
            relative_var_pinball_loss,
            torch.as_tensor(data.ret_train).reshape(-1, 1),
            RISK_WEIGHT_DECAY,
        ),
    }
    metrics = {}
    generator = None
    if record_dp is not None:  # DP-SGD's sampling and noise only
        generator = torch.Generator().manual_seed(
            secrets.randbits(63) if dp_seed is None else dp_seed
        )
    for name, model in models.items():
        loss_fn, target, weight_decay = jobs[name]
        if record_dp is not None:
            losses = [
                dp_sgd_step(
                    model,
                    x,
                    target,
                    loss_fn,
                    lr=lr,
                    weight_decay=weight_decay,
                    dp=record_dp.for_network(name),
                    generator=generator,
                )
                for _ in range(epochs)
            ]
            metrics[f"train-loss-{name}"] = losses[-1]
            continue
        metrics[f"train-loss-{name}"] = continue_training(
            model,
            x,
            target,
            loss_fn,
            epochs=epochs,
            lr=lr,
            weight_decay=weight_decay,
            optimizer=optimizer,
        )
    return metrics


@dataclass(frozen=True)
class RecordDP:
    """Record-level DP-SGD inside a provider: each local step clips every row's gradient to L2
    norm `clipping_norm`, adds N(0, (noise_multiplier * clipping_norm)^2) to their sum, over a
    Poisson sample of the rows at `sample_rate`."""

    noise_multiplier: float
    clipping_norm: float
    sample_rate: float = 1.0
    # The VaR network's own clipping norm (None: `clipping_norm`). Its per-row gradients are far
    # smaller than the volatility network's, so one C for both drowns the VaR in noise. The
    # privacy is the same either way: epsilon depends on the noise multiplier and steps only.
    risk_clipping_norm: float | None = None

    def for_network(self, name: str) -> RecordDP:
        """The settings `name`'s DP-SGD steps use."""
        if name == "risk" and self.risk_clipping_norm is not None:
            return replace(self, clipping_norm=self.risk_clipping_norm, risk_clipping_norm=None)
        return self

    def __post_init__(self) -> None:
        if self.noise_multiplier <= 0 or self.clipping_norm <= 0:
            raise ValueError(
                f"record-level DP needs a positive noise multiplier and clipping norm, got "
                f"{self.noise_multiplier} and {self.clipping_norm}"
            )
        if not 0.0 < self.sample_rate <= 1.0:
            raise ValueError(f"sample rate must be in (0, 1], got {self.sample_rate}")


def dp_sgd_step(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    loss_fn,
    *,
    lr: float,
    weight_decay: float,
    dp: RecordDP,
    generator: torch.Generator,
) -> float:
    """One DP-SGD step (Opacus: per-sample gradients, clipping, noise) on a Poisson sample of
    the rows; what the published local step (one full-batch SGD step) becomes under
    record-level DP. Returns the (non-private) loss of the sample."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    x, target = x.float(), target.float()
    n = x.shape[0]
    keep = torch.rand(n, generator=generator) < dp.sample_rate
    if not bool(keep.any()):
        return float("nan")  # an empty Poisson sample: the step is noise only; skip it
    sampled = GradSampleModule(model, loss_reduction="mean")
    optimizer = DPOptimizer(
        torch.optim.SGD(sampled.parameters(), lr=lr, weight_decay=weight_decay),
        noise_multiplier=dp.noise_multiplier,
        max_grad_norm=dp.clipping_norm,
        expected_batch_size=max(1, round(dp.sample_rate * n)),
        loss_reduction="mean",
        generator=generator,
    )
    try:
        sampled.train()
        optimizer.zero_grad()
        loss = loss_fn(sampled(x[keep]), target[keep])
        with warnings.catch_warnings():  # the inputs need no gradient: expected, not a problem
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            loss.backward()
        optimizer.step()
    finally:
        sampled._close()  # remove Opacus' hooks: `model` is used again without them
        model.eval()
    return float(loss.detach())


def dp_seed_for(seed: int, server_round: int, provider: str) -> int:
    """A reproducible DP-SGD seed per (run seed, round, provider) for benchmark replicas, so
    providers draw independent noise."""
    return (seed * 1_000_003 + server_round) * 2**32 + zlib.crc32(provider.encode())


@torch.no_grad()
def predict(models: nn.ModuleDict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(forecast log vol, 99% VaR in percent) for feature rows `x`."""
    return models["volatility"].predict(x), models["risk"].predict(x)


def evaluate_models(models: nn.ModuleDict, data: ProviderData) -> dict[str, float]:
    """Out-of-sample QLIKE of the volatility forecast and VaR breaches on the test rows."""
    logvol_pred, var_pred = predict(models, data.x_test)
    return evaluate_predictions(logvol_pred, var_pred, data.logvol_test, data.ret_test)


def evaluate_predictions(
    logvol_pred: np.ndarray, var_pred: np.ndarray, logvol_true: np.ndarray, ret_true: np.ndarray
) -> dict[str, float]:
    """QLIKE and log-vol MSE (`models.evaluation`), 99% VaR breach rate, Kupiec p-value, pinball."""
    from models.evaluation import kupiec_pof, mse_logvol, qlike
    from models.risk import QUANTILE, var_pinball_loss

    logvol_pred = np.asarray(logvol_pred, np.float64)
    var_pred = np.asarray(var_pred, np.float64)
    rv, forecast = np.exp(2.0 * np.asarray(logvol_true, np.float64)), np.exp(2.0 * logvol_pred)
    breaches = np.asarray(ret_true) < -var_pred
    pin = var_pinball_loss(torch.as_tensor(var_pred), torch.as_tensor(np.asarray(ret_true, float)))
    q = qlike(rv, forecast)
    return {
        "qlike": q,
        "logvol-mse": mse_logvol(logvol_true, logvol_pred),
        "var-breach-rate": float(breaches.mean()),
        "var-breach-excess": float(breaches.mean() - QUANTILE),
        "kupiec-pvalue": kupiec_pof(breaches, QUANTILE).pvalue,
        "pinball": float(pin),
        "loss": q,
    }
