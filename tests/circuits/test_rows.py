"""The oracle circuit's size: the rewrite keeps 16 feeds of the published model at logrows 15."""

import json
from pathlib import Path

import ezkl
import numpy as np
import pytest
import torch

from circuits.pipeline import CircuitConfig, _run_args
from models.data import load_bundled
from models.export import export_onnx
from models.features import build_features
from models.identity import PARAM_SCALE
from models.oracle_model import OracleModel
from models.risk import RiskModel
from models.volatility import VolatilityModel


def _settings(model: torch.nn.Module, X: np.ndarray, k: int, config: CircuitConfig, d: Path):
    d.mkdir(parents=True)
    export_onnx(model, torch.tensor(X[:k]), d / "m.onnx")
    settings = d / "settings.json"
    ezkl.gen_settings(str(d / "m.onnx"), str(settings), py_run_args=_run_args(config, k))
    usable = (len(X) // k) * k
    (d / "cal.json").write_text(json.dumps({"input_data": [X[:usable].reshape(-1).tolist()]}))
    ezkl.calibrate_settings(
        str(d / "cal.json"), str(d / "m.onnx"), str(settings), "resources", scales=[PARAM_SCALE]
    )
    return json.loads(settings.read_text())


@pytest.mark.slow
def test_sixteen_feeds_of_the_federated_oracle_fit_logrows_15(tmp_path: Path) -> None:
    """Two networks on one set of pooled statistics (as every federated round has) share their
    input clips; with the I/O range checks that the hashed inputs make redundant left out, 16
    feeds fit 2^15 rows. The linear VaR head (kappa * var_fhs: no hidden layer) took them from
    32,404 to about 22,400 rows, so with the range checks, in the graph as trained too, they
    fit 2^15 as well (they needed 2^16 with the 8-unit VaR network)."""
    X = build_features(load_bundled("sp500")).X[:400]
    vol, risk = VolatilityModel(), RiskModel()
    rng = torch.Generator().manual_seed(0)
    for net in (vol, risk):
        net.set_normalisation(X, y_shift=0.1, y_scale=0.5)
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=rng) * 0.3)
    model = OracleModel(vol, risk).eval()
    assert model.provable().groups == [[0, 1]]
    today = _settings(model, X, 16, CircuitConfig(), tmp_path / "today")
    assert today["run_args"]["logrows"] == 15
    assert today["num_rows"] < 23_000  # 22,420 measured
    checked = _settings(model, X, 16, CircuitConfig(range_check_io=True), tmp_path / "checked")
    assert checked["run_args"]["logrows"] == 15
    before = _settings(
        model, X, 16, CircuitConfig(rewrite_graph=False, range_check_io=True), tmp_path / "before"
    )
    assert before["run_args"]["logrows"] == 15
    assert before["num_rows"] >= checked["num_rows"] > today["num_rows"] + 1_000
