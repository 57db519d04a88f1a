"""The graph the circuit proves (`ProvableHeads`) computes what the networks compute."""

import numpy as np
import pytest
import torch

from models.data import load_bundled
from models.export import to_onnx
from models.features import NUM_FEATURES, Features, build_features
from models.network import ProvableHeads
from models.oracle_model import OracleModel
from models.risk import RiskModel, fit_risk
from models.volatility import VolatilityModel, fit_volatility


@pytest.fixture(scope="module")
def train() -> Features:
    return build_features(load_bundled("sp500")).slice(0, 1500)


@pytest.fixture(scope="module")
def probe(train: Features) -> np.ndarray:
    """Ordinary rows, rows beyond every clip, and each feature alone pushed far out."""
    rng = np.random.default_rng(0)
    X = train.X
    far = np.repeat(X[-1:], 2 * NUM_FEATURES, axis=0)
    for j in range(NUM_FEATURES):
        far[2 * j, j], far[2 * j + 1, j] = 1e3, -1e3
    wide = X.mean(0) + rng.normal(size=(200, NUM_FEATURES)) * 6 * X.std(0)
    rows = np.vstack([X[-300:], far, wide, np.full((1, NUM_FEATURES), 1e4)])
    return rows.astype(np.float32)


def _both(model: torch.nn.Module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both graphs evaluated in float64 (the folded constants are float32, as exported): in
    float32, `lo + relu(x - lo) - relu(x - hi)` itself rounds off ~1e-3 at |x| = 1e4, in either
    graph, where the circuit's fixed-point arithmetic is exact."""
    import copy

    with torch.no_grad():
        t = torch.as_tensor(x, dtype=torch.float64)
        provable = model.provable().double()
        return copy.deepcopy(model).double()(t).numpy(), provable(t).numpy()


def _relus(model: torch.nn.Module) -> int:
    return sum(node.op_type == "Relu" for node in to_onnx(model).graph.node)


@pytest.mark.parametrize("fit", [fit_volatility, fit_risk])
def test_provable_graph_equals_the_network(fit, train: Features, probe: np.ndarray) -> None:
    model = fit(train, epochs=60)
    ours, proved = _both(model, probe)
    np.testing.assert_allclose(proved, ours, rtol=1e-5, atol=1e-5)
    ops = {node.op_type for node in to_onnx(model).graph.node}
    assert ops <= {"Gemm", "MatMul", "Add", "Sub", "Relu"}, ops  # normalisation folded: no Mul


def test_oracle_shares_the_input_clips_only_when_normalisations_agree(
    train: Features, probe: np.ndarray
) -> None:
    vol = fit_volatility(train, epochs=60)
    shared = OracleModel(vol, fit_risk(train, epochs=60))
    separate = OracleModel(vol, fit_risk(train.slice(0, 1000), epochs=60))  # other bounds
    assert shared.provable().groups == [[0, 1]]
    assert separate.provable().groups == [[0], [1]]
    # The VaR head is linear: it needs only the extrapolation clip (2 ReLUs); the volatility
    # network adds the hidden-layer clip (2), its hidden ReLU layer (1) and an output clip (2);
    # the VaR head's output clip (2, the floor joins it).
    assert _relus(shared) == 2 + 2 + 1 + 2 + 2
    assert _relus(separate) == 2 * 2 + 2 + 1 + 2 + 2
    for model in (shared, separate):
        ours, proved = _both(model, probe)
        np.testing.assert_allclose(proved, ours, rtol=1e-5, atol=1e-5)


def test_floor_above_the_output_clip_and_linear_networks() -> None:
    """Edge cases of the rewrite: a VaR floor above the whole output range, and hidden = 0."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, NUM_FEATURES)).astype(np.float32)
    risk = RiskModel(NUM_FEATURES, 4)
    risk.set_normalisation(X, y_shift=0.0, y_scale=1.0)
    risk.y_lo.fill_(-6.2)  # the whole output range below the floor 0.05
    risk.y_hi.fill_(-3.8)
    linear = VolatilityModel(NUM_FEATURES, 0)
    linear.set_normalisation(X, y_shift=0.5, y_scale=2.0)
    with torch.no_grad():
        for net in (risk, linear):
            for p in net.parameters():
                p.copy_(torch.randn(p.shape) * 3)
    probe = np.vstack([X, X * 50]).astype(np.float32)
    for model in (risk, linear, OracleModel(linear, risk)):
        ours, proved = _both(model, probe)
        np.testing.assert_allclose(proved, ours, rtol=1e-5, atol=1e-5)
    assert np.all(_both(risk, probe)[1] == pytest.approx(float(risk.var_floor)))


def test_provable_heads_needs_a_network_with_positive_scales() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ProvableHeads([])
    net = VolatilityModel(NUM_FEATURES, 4)
    with torch.no_grad():
        net.x_scale[2] = -1.0
    with pytest.raises(ValueError, match="x_scale must be positive"):
        net.provable()
