"""Differential-privacy accounting for central DP with fixed clipping, by Google's `dp-accounting`.

Each round the server releases the mean of client updates clipped to L2 norm C, plus Gaussian
noise of standard deviation z*C/n (Flower's `DifferentialPrivacy*FixedClipping`, n = the number of
providers asked). Adding or removing one provider's data moves that sum by at most C, so every
round is a Gaussian mechanism with noise multiplier z at the provider (user) level. All providers
take part in every round (no sampling, hence no amplification), so T rounds are one
`SelfComposedDpEvent` of a `GaussianDpEvent(z)`, accounted in Rényi DP (`RdpAccountant`, which
converts to (epsilon, delta) with Balle et al. 2020, Thm. 21). `gaussian_exact_delta` is the exact
privacy profile of the same mechanism, an independent check of the accountant.

Record-level DP-SGD inside each provider (`federated.task.dp_sgd_step`, Opacus) is accounted by
`sampled_gaussian_privacy_spent`, per provider and per record of its data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dp_accounting
from dp_accounting.rdp import RdpAccountant

from federated.config import FederatedConfig


@dataclass(frozen=True)
class PrivacySpent:
    """Achieved (epsilon, delta) after `rounds` Gaussian releases with `noise_multiplier`."""

    epsilon: float
    delta: float
    noise_multiplier: float
    rounds: int
    best_order: float


def gaussian_privacy_spent(noise_multiplier: float, rounds: int, delta: float) -> PrivacySpent:
    """(epsilon, delta) of `rounds` Gaussian releases with `noise_multiplier`, by RDP."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if rounds < 0:
        raise ValueError(f"rounds must be non-negative, got {rounds}")
    if noise_multiplier <= 0:
        raise ValueError(f"noise multiplier must be positive, got {noise_multiplier}")
    if rounds == 0:
        return PrivacySpent(0.0, delta, noise_multiplier, 0, float("nan"))
    accountant = RdpAccountant()
    event = dp_accounting.GaussianDpEvent(noise_multiplier)
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, rounds))
    epsilon, order = accountant.get_epsilon_and_optimal_order(delta)
    return PrivacySpent(float(epsilon), delta, noise_multiplier, rounds, float(order))


def sampled_gaussian_privacy_spent(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float
) -> PrivacySpent:
    """Record-level (epsilon, delta) of DP-SGD inside one provider: `steps` releases of a sum of
    per-record gradients clipped to C plus N(0, (z C)^2), each over a Poisson sample of the
    provider's rows at `sample_rate` (`PoissonSampledDpEvent`; 1 = every row, no
    amplification), accounted in RDP by `dp-accounting`."""
    if not 0.0 < sample_rate <= 1.0:
        raise ValueError(f"sample rate must be in (0, 1], got {sample_rate}")
    if sample_rate == 1.0:
        return gaussian_privacy_spent(noise_multiplier, steps, delta)
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if noise_multiplier <= 0 or steps < 1:
        raise ValueError(
            f"need a positive noise multiplier and steps, got {noise_multiplier} and {steps}"
        )
    accountant = RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(
        sample_rate, dp_accounting.GaussianDpEvent(noise_multiplier)
    )
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, steps))
    epsilon, order = accountant.get_epsilon_and_optimal_order(delta)
    return PrivacySpent(float(epsilon), delta, noise_multiplier, steps, float(order))


def gaussian_exact_delta(noise_multiplier: float, rounds: int, epsilon: float) -> float:
    """Exact delta(epsilon) of `rounds` composed Gaussian releases (Balle & Wang 2018, Thm. 8).

    T Gaussian mechanisms with multiplier z compose exactly to one with mu = sqrt(T) / z.
    Used to check the accountant: it must never claim less privacy loss than this.
    """
    mu = math.sqrt(rounds) / noise_multiplier

    def phi(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2.0))

    return phi(-epsilon / mu + mu / 2.0) - math.exp(epsilon) * phi(-epsilon / mu - mu / 2.0)


def dp_record(cfg: FederatedConfig, rounds: int) -> dict[str, float | None]:
    """Privacy spent after `rounds`: user-level central DP, and record-level DP-SGD per
    provider (each of its rows; `local_epochs` DP-SGD steps per round for each network)."""
    from federated.task import record_dp_releases

    record: dict[str, float | None] = {}
    if cfg.record_dp is not None:
        steps = record_dp_releases(rounds, cfg.local_epochs)
        dp = cfg.record_dp
        spent = sampled_gaussian_privacy_spent(
            dp.noise_multiplier, dp.sample_rate, steps, cfg.dp_delta
        )
        record = {
            "record_epsilon": spent.epsilon,
            "record_noise_multiplier": dp.noise_multiplier,
            "record_clipping_norm": dp.clipping_norm,
            "record_clipping_norm_risk": dp.for_network("risk").clipping_norm,
            "record_sample_rate": dp.sample_rate,
        }
    if not cfg.dp_enabled:
        user = {"epsilon": None, "delta": None, "noise_multiplier": 0.0, "clipping_norm": None}
        return user | record | ({"delta": cfg.dp_delta} if record else {})
    spent = gaussian_privacy_spent(cfg.dp_noise_multiplier, rounds, cfg.dp_delta)
    return {
        "epsilon": spent.epsilon,
        "delta": spent.delta,
        "noise_multiplier": cfg.dp_noise_multiplier,
        "clipping_norm": cfg.dp_clipping_norm,
    } | record
