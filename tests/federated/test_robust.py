"""A malicious provider (sign-flipped, 10x update) wrecks FedAvg; the median rule contains it."""

from __future__ import annotations

import pytest

from federated.manifest import load_manifest

ATTACK = {"attack": "sign-flip", "attack-partition": 0, "attack-scale": 10.0}


@pytest.fixture(scope="module")
def qlikes(simulated) -> dict[str, float]:
    runs = {
        "clean": simulated("clean", **{"num-server-rounds": 2}),
        "clean-median": simulated(
            "clean-median", **{"num-server-rounds": 2, "aggregation": "median"}
        ),
        "fedavg-attacked": simulated("fedavg-attacked", **{"num-server-rounds": 2, **ATTACK}),
        "median-attacked": simulated(
            "median-attacked", **{"num-server-rounds": 2, "aggregation": "median", **ATTACK}
        ),
    }
    return {name: load_manifest(out, 2).metrics["qlike"] for name, out in runs.items()}


def test_fedavg_is_wrecked_by_one_sign_flipping_provider(qlikes) -> None:
    assert qlikes["fedavg-attacked"] > 2 * qlikes["clean"]


def test_median_contains_the_same_attack(qlikes) -> None:
    assert qlikes["median-attacked"] < 1.5 * qlikes["clean-median"]
    assert qlikes["median-attacked"] < 0.5 * qlikes["fedavg-attacked"]


def test_median_norm_bound_scales_only_the_outsized_update() -> None:
    import numpy as np

    from federated.strategies import bound_to_median_norm

    current = {"w": np.zeros(2, np.float32), "b": np.ones(1, np.float32)}
    b = np.ones(1, np.float32)
    honest = [  # update norms 0.5, 1, 1 (b does not move)
        {"w": np.array([0.3, 0.4], np.float32), "b": b},
        {"w": np.array([0.0, 1.0], np.float32), "b": b},
        {"w": np.array([0.6, 0.8], np.float32), "b": b},
    ]
    attacker = {"w": np.array([30.0, 40.0], np.float32), "b": np.full(1, 11.0, np.float32)}
    bounded, bound = bound_to_median_norm(current, [*honest, attacker])

    assert bound == pytest.approx(1.0)  # median of 0.5, 1, 1, ~52.2
    for before, after in zip(honest, bounded[:3], strict=True):  # at or below the bound: as sent
        for k in before:
            np.testing.assert_allclose(after[k], before[k], rtol=1e-6)
    delta = {k: bounded[3][k] - current[k] for k in current}
    assert np.sqrt(sum(float(np.sum(v * v)) for v in delta.values())) == pytest.approx(1.0)
    # same direction as the attacker's update, only shorter
    raw = np.r_[attacker["w"], attacker["b"] - 1]
    np.testing.assert_allclose(np.r_[delta["w"], delta["b"]], raw / np.linalg.norm(raw), rtol=1e-5)
    assert bounded[3]["w"].dtype == np.float32


def test_median_norm_bound_is_refused_with_secagg() -> None:
    from federated.config import ConfigError, FederatedConfig

    with pytest.raises(ConfigError, match="median-norm-bound"):
        FederatedConfig.from_run_config({"median-norm-bound": True, "secagg": True})
