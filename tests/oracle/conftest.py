"""The session's K=2 circuit, shared by the node and explorer tests (built once per session)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuits.artifacts import CircuitArtifacts
from circuits.pipeline import build_circuit, compile_model
from models.data import load_ohlc_csv
from models.features import build_features
from tests.oracle.node.conftest import UNREGISTERED, Circuit, _candles_end, node_model
from tests.oracle.node.market import write_candles


@pytest.fixture(scope="session")
def circuit(tmp_path_factory: pytest.TempPathFactory) -> Circuit:
    """`node_model(0)` on the shared features, proving K=2 feeds per report."""
    root = tmp_path_factory.mktemp("node-circuit")
    rows = []
    for seed in range(4):
        path = write_candles(root / f"cal{seed}.csv", _candles_end(), days=80, seed=seed)
        rows.append(build_features(load_ohlc_csv(path, calendar="daily")).X)
    calibration = torch.tensor(np.concatenate(rows), dtype=torch.float32)
    artifacts = CircuitArtifacts(root / "circuit")
    build = build_circuit(node_model(0), calibration[:2], calibration, artifacts)
    compile_model(node_model(7), artifacts, UNREGISTERED, calibration[:2])
    return Circuit(build, artifacts)
