"""DP noise is really added and accounted; a provider dying mid-round does not abort training."""

from __future__ import annotations

import numpy as np
import pytest

from federated.manifest import load_manifest, load_round_model
from federated.privacy import gaussian_privacy_spent
from federated.task import build_models, get_trainable
from tests.federated.conftest import PROVIDERS

# Clipping norm far above any update's norm (so no clipping): the round-1 model differs from
# plain FedAvg's by the Gaussian noise alone, of std z * C / n per coordinate.
Z, C = 0.006, 50.0


def _params(out, rnd: int) -> np.ndarray:
    models = build_models()
    for key in ("volatility", "risk"):
        models[key] = load_round_model(out, rnd, key, models[key])
    return np.concatenate([v.ravel() for v in get_trainable(models).values()])


def test_dp_noise_has_the_calibrated_scale_and_epsilon_is_accounted(simulated) -> None:
    plain = simulated("clean", **{"num-server-rounds": 2})
    dp = simulated(
        "dp", **{"num-server-rounds": 2, "dp-noise-multiplier": Z, "dp-clipping-norm": C}
    )
    noise = _params(dp, 1) - _params(plain, 1)
    expected_std = Z * C / len(PROVIDERS)
    assert np.std(noise) == pytest.approx(expected_std, rel=0.2)
    assert abs(np.mean(noise)) < 4 * expected_std / np.sqrt(noise.size)

    eps = []
    for rnd in (1, 2):
        m = load_manifest(dp, rnd)
        spent = gaussian_privacy_spent(Z, rnd, 1e-5)
        assert m.dp["epsilon"] == pytest.approx(spent.epsilon)
        assert m.dp["delta"] == 1e-5 and m.dp["noise_multiplier"] == Z
        eps.append(m.dp["epsilon"])
    assert eps[1] > eps[0] > 0


def test_a_provider_crashing_mid_round_does_not_abort_training(simulated) -> None:
    out = simulated("dropout", **{"num-server-rounds": 2, "fail-partition": 2, "fail-round": 1})
    first, second = load_manifest(out, 1), load_manifest(out, 2)
    assert first.failures == 1
    assert len(first.failure_reasons) == 1 and "crashes in round 1" in first.failure_reasons[0]
    assert first.failure_reasons[0].startswith("node ") and "/" not in first.failure_reasons[0]
    assert first.participants == sorted(PROVIDERS[:2])
    assert second.failures == 0 and second.participants == sorted(PROVIDERS)
    assert second.failure_reasons == []
    assert np.isfinite(second.metrics["qlike"])
