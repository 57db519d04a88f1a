"""Simulated federations (Flower simulation engine, in-process), each configuration run once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from federated.simulation import simulate

PROVIDERS = ("bundled:sp500", "bundled:wti", "stress:7")
# Small but real: every provider trains both models for a few full-batch Adam epochs per round
# (plain FedAvg, evaluated every round; the published FedSGD + server Adam needs ~100 rounds),
# without DP or SecAgg+ so that each mechanism is tested on its own (tests turn them on by name).
FAST = {
    "secagg": False,
    "normalisation": "federated",
    "record-dp-noise-multiplier": 0.0,
    "num-server-rounds": 5,
    "local-epochs": 10,
    "learning-rate": 0.01,
    "server-lr": 0.0,
    "evaluate-every": 1,
    "node-wait": 30.0,
    "providers": ",".join(PROVIDERS),
}


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`simulated(name, **overrides)`: each distinct configuration is simulated once."""
    cache: dict[str, Path] = {}

    def run(name: str, **overrides: Any) -> Path:
        if name not in cache:
            cache[name] = simulate(tmp_path_factory.mktemp(name), **{**FAST, **overrides})
        return cache[name]

    return run
