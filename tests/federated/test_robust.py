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
