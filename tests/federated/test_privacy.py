"""The RDP accountant: closed forms, and never below the exact Gaussian privacy profile."""

from __future__ import annotations

import math

import pytest

from federated.privacy import (
    gaussian_exact_delta,
    gaussian_privacy_spent,
    gaussian_rdp,
    rdp_to_epsilon,
)


def test_gaussian_rdp_is_the_closed_form_and_composes_linearly() -> None:
    assert gaussian_rdp(2.0, 8.0) == pytest.approx(8.0 / 8.0)
    assert gaussian_rdp(2.0, 8.0, rounds=5) == pytest.approx(5 * gaussian_rdp(2.0, 8.0))


def test_conversion_matches_balle_2020_formula_by_hand() -> None:
    # alpha = 10, rdp = 1, delta = 1e-5: 1 + ln(0.9) - (ln(1e-5) + ln(10)) / 9
    expected = 1 + math.log(0.9) - (math.log(1e-5) + math.log(10)) / 9
    assert rdp_to_epsilon(1.0, 10.0, 1e-5) == pytest.approx(expected)


@pytest.mark.parametrize(("z", "rounds"), [(0.5, 1), (1.0, 5), (1.0, 50), (2.0, 20), (5.0, 100)])
def test_rdp_epsilon_is_a_valid_and_tight_upper_bound(z: float, rounds: int) -> None:
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
        gaussian_rdp(0.0, 2.0)
