"""The Deployment Engine for real: one flower-superlink and 3 flower-supernode processes on
loopback, each holding one provider's data, run the app for 2 rounds and are all stopped."""

from __future__ import annotations

import os

import pytest

from federated.deployment import local_federation
from federated.manifest import load_manifest, load_round_model
from federated.task import build_models
from models.identity import model_hash_hex
from tests.federated.conftest import PROVIDERS


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # zombies are dead
    except OSError:
        return False


@pytest.mark.slow
def test_three_supernodes_two_rounds_then_everything_stops(tmp_path) -> None:
    out = tmp_path / "federated"
    seen: set[int] = set()
    with local_federation(tmp_path / "federation", PROVIDERS) as fed:
        assert len(fed.processes) == 1 + len(PROVIDERS)
        log = fed.run_app(
            {
                "num-server-rounds": 2,
                "local-epochs": 10,
                "learning-rate": 0.01,
                "server-lr": 0.0,
                "evaluate-every": 1,
                "expected-nodes": len(PROVIDERS),
                "output-dir": str(out),
            },
            timeout=600,
        )
        seen = fed.all_pids()
    assert "Successfully started run" in log
    for rnd in (1, 2):
        m = load_manifest(out, rnd)
        # Participants name the data each SuperNode read from its own node config.
        assert m.participants == sorted(PROVIDERS)
        assert m.failures == 0
        model = load_round_model(out, rnd, "volatility", build_models()["volatility"])
        assert model_hash_hex(model) == m.model_hashes["volatility"]
    assert len(seen) > 1 + len(PROVIDERS)  # SuperExec / app subprocesses were running too
    survivors = [pid for pid in seen if _alive(pid)]
    assert not survivors, f"processes left running: {survivors}"
    assert os.getpid() not in seen
