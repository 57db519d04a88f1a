"""The DP accountant (`dp-accounting`'s RDP): a valid and tight bound on the exact Gaussian
privacy profile, and checked against the closed-form zCDP conversion."""

from __future__ import annotations

import math

import pytest

from federated.privacy import gaussian_exact_delta, gaussian_privacy_spent


@pytest.mark.parametrize(("z", "rounds"), [(0.5, 1), (1.0, 5), (1.0, 50), (2.0, 20), (5.0, 100)])
def test_epsilon_is_a_valid_and_tight_upper_bound(z: float, rounds: int) -> None:
    delta = 1e-5
    spent = gaussian_privacy_spent(z, rounds, delta)
    # Valid: at the reported epsilon the exact delta of the composed mechanism is <= delta.
    assert gaussian_exact_delta(z, rounds, spent.epsilon) <= delta * (1 + 1e-9)
    # Tight: 10% less epsilon would exceed delta under the exact profile.
    assert gaussian_exact_delta(z, rounds, 0.9 * spent.epsilon) > delta


def test_zcdp_closed_form_upper_bounds_the_optimised_epsilon() -> None:
    # Classic conversion at the best real order: rho + 2 sqrt(rho ln(1/delta)), rho = T/(2 z^2).
    z, rounds, delta = 1.0, 10, 1e-5
    rho = rounds / (2 * z**2)
    classic = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    spent = gaussian_privacy_spent(z, rounds, delta)
    assert spent.epsilon < classic
    assert spent.epsilon > 0.8 * classic
    assert spent.best_order > 1


def test_more_noise_or_fewer_rounds_spend_less() -> None:
    base = gaussian_privacy_spent(1.0, 10, 1e-5).epsilon
    assert gaussian_privacy_spent(2.0, 10, 1e-5).epsilon < base
    assert gaussian_privacy_spent(1.0, 5, 1e-5).epsilon < base
    assert gaussian_privacy_spent(1.0, 0, 1e-5).epsilon == 0.0


@pytest.mark.parametrize("delta", [0.0, 1.0, -1e-5])
def test_rejects_invalid_delta(delta: float) -> None:
    with pytest.raises(ValueError, match="delta"):
        gaussian_privacy_spent(1.0, 3, delta)


def test_rejects_non_positive_noise() -> None:
    with pytest.raises(ValueError, match="noise multiplier"):
        gaussian_privacy_spent(0.0, 3, 1e-5)
