"""Differential-privacy accounting for central DP with fixed clipping (Rényi DP).

Each round the server releases the mean of client updates clipped to L2 norm C, plus Gaussian
noise of standard deviation z*C/n (Flower's `DifferentialPrivacy*FixedClipping`). Replacing one
provider's data moves that mean by at most C/n, so every round is a Gaussian mechanism with noise
multiplier z at the provider (user) level. All providers take part in every round (no sampling,
hence no amplification), and T rounds compose additively in RDP:

    RDP(alpha) = T * alpha / (2 z^2)            (Mironov 2017, Prop. 7 and Prop. 1)

converted to (epsilon, delta) with the tighter bound of Balle et al. 2020 (Thm. 21):

    epsilon = min over alpha of
              RDP(alpha) + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Orders searched for the RDP-to-(epsilon, delta) conversion: dense near 1, sparse far out.
RDP_ORDERS: tuple[float, ...] = tuple(
    [1.0 + x / 100 for x in range(1, 100)]
    + [2.0 + x / 10 for x in range(0, 180)]
    + [20.0 + x for x in range(0, 237)]
    + [256.0, 512.0, 1024.0, 4096.0, 16384.0]
)


@dataclass(frozen=True)
class PrivacySpent:
    """Achieved (epsilon, delta) after `rounds` Gaussian releases with `noise_multiplier`."""

    epsilon: float
    delta: float
    noise_multiplier: float
    rounds: int
    best_order: float


def gaussian_rdp(noise_multiplier: float, order: float, rounds: int = 1) -> float:
    """RDP of `rounds` compositions of the Gaussian mechanism (sensitivity 1, std z)."""
    if noise_multiplier <= 0:
        raise ValueError(f"noise multiplier must be positive, got {noise_multiplier}")
    return rounds * order / (2.0 * noise_multiplier**2)


def rdp_to_epsilon(rdp: float, order: float, delta: float) -> float:
    """(epsilon, delta)-DP implied by (order, rdp)-RDP (Balle et al. 2020, Thm. 21)."""
    return (
        rdp + math.log((order - 1.0) / order) - (math.log(delta) + math.log(order)) / (order - 1.0)
    )


def gaussian_privacy_spent(noise_multiplier: float, rounds: int, delta: float) -> PrivacySpent:
    """Best (epsilon, delta) over `RDP_ORDERS` for `rounds` Gaussian releases."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if rounds < 0:
        raise ValueError(f"rounds must be non-negative, got {rounds}")
    if rounds == 0:
        return PrivacySpent(0.0, delta, noise_multiplier, 0, float("nan"))
    best = min(
        (rdp_to_epsilon(gaussian_rdp(noise_multiplier, a, rounds), a, delta), a) for a in RDP_ORDERS
    )
    return PrivacySpent(max(best[0], 0.0), delta, noise_multiplier, rounds, best[1])


def gaussian_exact_delta(noise_multiplier: float, rounds: int, epsilon: float) -> float:
    """Exact delta(epsilon) of `rounds` composed Gaussian releases (Balle & Wang 2018, Thm. 8).

    T Gaussian mechanisms with multiplier z compose exactly to one with mu = sqrt(T) / z.
    Used to check the RDP bound: it must never claim less privacy loss than this.
    """
    mu = math.sqrt(rounds) / noise_multiplier

    def phi(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2.0))

    return phi(-epsilon / mu + mu / 2.0) - math.exp(epsilon) * phi(-epsilon / mu - mu / 2.0)
