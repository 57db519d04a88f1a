"""The model hash computed from the torch module equals the circuit's public instance."""

import json
from pathlib import Path

import ezkl
import numpy as np
import pytest
import torch

from circuits.artifacts import CircuitArtifacts
from circuits.fields import felt_from_ezkl_hex
from circuits.pipeline import CircuitConfig, _run_args, build_circuit, prove, verify
from models.export import AsTrained, export_onnx
from models.features import NUM_FEATURES
from models.identity import model_hash
from models.oracle_model import OracleModel
from models.risk import RiskModel, train_risk
from models.volatility import VolatilityModel, train_volatility


def _trained_oracle_model(seed: int = 0) -> tuple[OracleModel, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, NUM_FEATURES)).astype(np.float32)
    y = 0.3 * X[:, 0] + rng.normal(scale=0.1, size=300)
    r = rng.normal(scale=1.0 + 0.5 * np.abs(X[:, 1]), size=300)
    vol = train_volatility(VolatilityModel(NUM_FEATURES, 4), X, y, epochs=5, seed=seed)
    # the published VaR head's shape (linear in var_fhs, no bias), on other rows: separate clips
    risk = train_risk(RiskModel(), X[:250], r[:250], epochs=5, seed=seed)
    return OracleModel(vol, risk).eval(), X


@pytest.mark.slow
def test_oracle_model_hash_matches_the_proof_instance(tmp_path: Path) -> None:
    model, X = _trained_oracle_model()
    artifacts = CircuitArtifacts(tmp_path / "circuit")
    build = build_circuit(model, torch.tensor(X[:2]), torch.tensor(X[:200]), artifacts)
    proof = prove(artifacts, X[-2:])
    assert verify(artifacts, proof.path)
    assert proof.instances[build.layout.model_hash_index] == model_hash(model)
    assert build.layout.num_feeds == 2 and build.layout.outputs_per_feed == 2
    proved = np.array(build.layout.float_outputs(proof.instances))
    with torch.no_grad():
        expected = model(torch.tensor(X[-2:])).numpy()
    assert np.max(np.abs(proved - expected)) < 5e-3


def test_hash_changes_with_any_weight() -> None:
    model, _ = _trained_oracle_model()
    before = model_hash(model)
    with torch.no_grad():
        model.risk.skip.weight.add_(0.01)
    assert model_hash(model) != before


def test_mismatched_feature_widths_are_refused() -> None:
    with pytest.raises(ValueError, match=f"{NUM_FEATURES} features"):
        OracleModel(VolatilityModel(NUM_FEATURES, 4), RiskModel(6, 4))


def _ezkl_param_hash(model: torch.nn.Module, x: np.ndarray, workdir: Path) -> int:
    """The hashed-parameter instance EZKL itself computes for `model` (witness only, no keys)."""
    workdir.mkdir(parents=True)
    onnx_path, settings, compiled = workdir / "m.onnx", workdir / "settings.json", workdir / "c"
    export_onnx(model, torch.tensor(x[:1]), onnx_path)
    ezkl.gen_settings(str(onnx_path), str(settings), py_run_args=_run_args(CircuitConfig(), 1))
    ezkl.compile_circuit(str(onnx_path), str(compiled), str(settings))
    data = workdir / "input.json"
    data.write_text(json.dumps({"input_data": [x[:1].reshape(-1).tolist()]}))
    witness = ezkl.gen_witness(str(data), str(compiled), str(workdir / "witness.json"))
    return felt_from_ezkl_hex(witness["processed_params"]["poseidon_hash"][0])


@pytest.mark.parametrize(
    "variant", ["volatility", "risk", "oracle-separate", "oracle-shared", "as-trained"]
)
def test_model_hash_follows_ezkl_constant_order(variant: str, tmp_path: Path) -> None:
    """EZKL hashes the graph's constants in tract's evaluation order, not the ONNX node order:
    `models.identity.graph_constants` must follow it for every graph shape the node proves
    (one network, two networks with separate or shared input clips, and the graph as trained)."""
    oracle, X = _trained_oracle_model()
    vol, risk = oracle.volatility, oracle.risk
    shared_risk = train_risk(RiskModel(), X, X[:, 2], epochs=5)
    models = {
        "volatility": vol,
        "risk": risk,
        "oracle-separate": oracle,
        "oracle-shared": OracleModel(vol, shared_risk),
        "as-trained": AsTrained(oracle),
    }
    model = models[variant].eval()
    if variant == "oracle-shared":
        assert model.provable().groups == [[0, 1]]
    if variant == "oracle-separate":
        assert model.provable().groups == [[0], [1]]
    assert model_hash(model) == _ezkl_param_hash(model, X, tmp_path / variant)
