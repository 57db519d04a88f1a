from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from models.data import load_bundled
from models.features import BASELINE, NUM_FEATURES, VAR_FHS, Features, build_features
from models.risk import (
    QUANTILE,
    RiskModel,
    fit_risk,
    ltv_haircut,
    margin_requirement,
    pinball_loss,
    relative_var_pinball_loss,
)
from models.volatility import VolatilityModel, fit_volatility, qlike_logvol_loss

# Ops a circuit handles without approximation tables (ReLU aside); no Div/Exp/Log/Sigmoid/Norm.
EZKL_FRIENDLY_OPS = {"Gemm", "MatMul", "Add", "Sub", "Mul", "Relu", "Constant"}


@pytest.fixture(scope="module")
def sp500_train() -> Features:
    return build_features(load_bundled("sp500")).slice(0, 1500)


@pytest.mark.parametrize("cls", [VolatilityModel, RiskModel])
def test_models_are_small(cls: type) -> None:
    assert cls().num_parameters() < 500
    # the VaR head has no bias (VaR = kappa * var_fhs, scale-equivariant)
    assert cls(hidden=0).num_parameters() == NUM_FEATURES + (cls is VolatilityModel)


def test_volatility_model_trains_deterministically(sp500_train: Features) -> None:
    a = fit_volatility(sp500_train, seed=1, epochs=60)
    b = fit_volatility(sp500_train, seed=1, epochs=60)
    c = fit_volatility(sp500_train, seed=2, epochs=60)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.hidden.weight, c.hidden.weight)


def test_volatility_model_learns(sp500_train: Features) -> None:
    f = sp500_train
    model = fit_volatility(f, epochs=200)
    pred = torch.as_tensor(model.predict(f.X)).reshape(-1, 1)
    target = torch.as_tensor(f.target_logvol).reshape(-1, 1)
    constant = torch.full_like(target, 0.5 * float(np.log(np.mean(f.target_rv))))
    # In-sample QLIKE beats the best constant forecast (the unconditional variance) clearly.
    assert qlike_logvol_loss(pred, target) < 0.8 * qlike_logvol_loss(constant, target)
    # Forecasts track volatility: correlated with the realized log vol.
    assert np.corrcoef(pred[:, 0], f.target_logvol)[0, 1] > 0.5


def test_risk_model_fits_the_one_percent_quantile(sp500_train: Features) -> None:
    f = sp500_train
    model = fit_risk(f, epochs=300)
    var = model.predict(f.X)
    assert np.all(var > 0)
    breach_rate = np.mean(f.next_return < -var)
    assert 0.008 < breach_rate < 0.012  # in-sample: one scale on the FHS VaR hits about 1 %
    # VaR = kappa * var_fhs exactly (where above the floor): proportional to the feed's own
    # filtered-historical-simulation VaR, no intercept
    np.testing.assert_allclose(var, model.kappa * f.X[:, VAR_FHS], rtol=1e-5)


def test_kappa_is_the_pooled_quantile_of_losses_in_fhs_units(sp500_train: Features) -> None:
    """The relative pinball loss counts days, not volatility: its minimiser over one scale is the
    99 % quantile of -r / var_fhs (split-conformal), where the plain pinball loss lets volatile
    days set the scale."""
    f = sp500_train
    ratio = -f.next_return / f.X[:, VAR_FHS]
    model = fit_risk(f, epochs=300)
    assert model.kappa == pytest.approx(np.quantile(ratio, 0.99), abs=0.02)
    with pytest.raises(ValueError, match="no separate calibration"):
        fit_risk(f, epochs=1, calibration_fraction=0.2)


def test_relative_pinball_loss_weighs_each_day_the_same() -> None:
    r = torch.tensor([[-3.0], [1.0]])
    var = torch.tensor([[2.0], [4.0]])
    # per-row pinball (0.99 * 1, 0.01 * 5) divided by the VaR (2, 4), then averaged
    assert float(relative_var_pinball_loss(var, r)) == pytest.approx((0.99 / 2 + 0.05 / 4) / 2)
    v = var.clone().requires_grad_(True)
    relative_var_pinball_loss(v, r).backward()  # the denominator carries no gradient
    np.testing.assert_allclose(v.grad.numpy()[:, 0], [-0.99 / 2 / 2, 0.01 / 4 / 2], rtol=1e-6)


def test_pinball_loss_known_values() -> None:
    y = torch.tensor([1.0, -3.0])
    q = torch.tensor([-2.0, -2.0])
    # e = y - q = (3, -1): losses 0.01 * 3 and (0.01 - 1) * -1 = 0.99; mean 0.51.
    assert float(pinball_loss(q, y, QUANTILE)) == pytest.approx(0.51)
    # The 1 % quantile of a sample minimises the pinball loss over constant predictions.
    sample = torch.as_tensor(np.random.default_rng(0).standard_normal(10_000))
    grid = torch.linspace(-3.5, -1.0, 251)
    losses = [float(pinball_loss(g.expand_as(sample), sample)) for g in grid]
    best = float(grid[int(np.argmin(losses))])
    assert best == pytest.approx(float(np.quantile(sample.numpy(), 0.01)), abs=0.05)


def test_qlike_loss_is_zero_at_the_truth_and_asymmetric() -> None:
    y = torch.tensor([0.5, -0.2])
    assert float(qlike_logvol_loss(y, y)) == pytest.approx(0.0)
    under = float(qlike_logvol_loss(y - 0.3, y))
    over = float(qlike_logvol_loss(y + 0.3, y))
    assert under > over > 0  # under-predicting variance costs more


def test_margin_and_ltv_formulas() -> None:
    # 4 % one-day VaR, 1.5x multiplier: 6 % margin (16.7x max leverage).
    assert margin_requirement(4.0) == pytest.approx(0.06)
    assert margin_requirement(4.0, horizon_days=4.0) == pytest.approx(0.12)
    assert margin_requirement(0.1) == 0.01  # floor
    assert margin_requirement(200.0) == 1.0  # cap
    # 4 % VaR over 3 liquidation days + 5 % penalty: 1.5 * sqrt(3) * 0.04 + 0.05.
    assert ltv_haircut(4.0) == pytest.approx(1.5 * np.sqrt(3) * 0.04 + 0.05)
    assert ltv_haircut(100.0) == 1.0
    with pytest.raises(ValueError, match="VaR must be"):
        margin_requirement(float("nan"))
    with pytest.raises(ValueError, match="VaR must be"):
        ltv_haircut(-1.0)


@pytest.mark.parametrize("cls", [VolatilityModel, RiskModel])
def test_onnx_export_is_ezkl_friendly_and_contains_normalisation(
    cls: type, tmp_path: Path, sp500_train: Features
) -> None:
    model = cls()
    model.set_normalisation(sp500_train.X, y_shift=0.3, y_scale=2.0)
    path = tmp_path / "model.onnx"
    x = torch.as_tensor(sp500_train.X[:4])
    torch.onnx.export(
        model, (x,), str(path), input_names=["input"], output_names=["output"],
        opset_version=18, dynamic_axes={"input": {0: "b"}, "output": {0: "b"}}, dynamo=False,
    )  # fmt: skip
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    # (the VaR head's output shift and baseline shift are both 0 by design: the exporter aliases
    # the second to the first with an Identity; the circuit's graph, `provable()`, has none)
    allowed = EZKL_FRIENDLY_OPS | ({"Identity"} if cls is RiskModel else set())
    assert ops <= allowed, ops - allowed
    assert {"Sub", "Mul"} <= ops  # the normalisation is in the graph
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    raw = sp500_train.X[:7]
    (out,) = session.run(None, {"input": raw})
    np.testing.assert_allclose(out[:, 0], model.predict(raw), atol=1e-5)


def test_outputs_are_clipped_in_the_graph_whatever_the_features(sp500_train: Features) -> None:
    """A corrupt 10x tick (and far worse inputs) cannot make either model output an absurd
    number: the output is clipped to y_shift +- 12 y_scale inside the network (so inside the
    circuit), and the linear path extrapolates at most 4 normalised units past the training
    extremes. Ordinary days are untouched by the clip."""
    from models.data import PriceSeries
    from models.features import latest_features
    from models.network import OUTPUT_SIGMAS

    vol = fit_volatility(sp500_train, epochs=50)
    risk = fit_risk(sp500_train, epochs=50)
    series = load_bundled("sp500").slice(0, 1600)
    spike = PriceSeries(
        name="spike",
        dates=series.dates,
        open=series.open,
        high=np.r_[series.high[:-1], series.close[-2] * 10],
        low=series.low,
        close=np.r_[series.close[:-1], series.close[-2] * 10],
        volume=series.volume,
    )
    tick = latest_features(spike)[None, :]
    absurd = np.full((1, NUM_FEATURES), 1e4, dtype=np.float32)
    for model in (vol, risk):
        lo, hi = float(model.y_lo), float(model.y_hi)
        spread = float(model.y_shift) + OUTPUT_SIGMAS * float(model.y_scale)
        if model.baseline is not None:  # the output range spans the baseline's own range
            b = model.baseline
            spread += float(model.e_hi[b] / model.x_scale[b] + model.x_shift[b])
        assert hi == pytest.approx(spread, rel=1e-6)
        for x in (tick, absurd, -absurd):
            assert lo - 1e-4 <= model.predict(x)[0] <= hi + 1e-4

        # Without the clips the same network extrapolates far beyond them on these inputs.
        def unclipped(x: np.ndarray, m=model) -> np.ndarray:
            with torch.no_grad():
                x = torch.as_tensor(x)
                z = (x - m.x_shift) * m.x_scale
                c = torch.minimum(torch.maximum(z, m.z_lo), m.z_hi)
                h = m.skip(z * m.x_mask)
                if m.hidden_size > 0:
                    h = h + m.out(torch.relu(m.hidden(c * m.x_mask)))
                y = h * m.y_scale + m.y_shift
                if m.baseline is not None:
                    y = y + x[:, m.baseline : m.baseline + 1]
                return y[:, 0].double().numpy()

        assert abs(unclipped(absurd)[0]) > hi
        ordinary = sp500_train.X[-200:]
        expected = unclipped(ordinary)
        if isinstance(model, RiskModel):
            expected = np.maximum(expected, float(model.var_floor))
        np.testing.assert_allclose(model.predict(ordinary), expected, atol=1e-5)


def test_volatility_model_sees_no_level_and_adds_its_baseline(sp500_train) -> None:
    vol = fit_volatility(sp500_train, epochs=30)
    X = sp500_train.X[-50:].copy()
    base = vol.predict(X)
    moved = X.copy()
    moved[:, VAR_FHS] *= 3.0  # a level the network must not see
    np.testing.assert_allclose(vol.predict(moved), base, atol=1e-6)
    shifted = X.copy()
    shifted[:, BASELINE] += 0.1  # the baseline passes straight through (inside its range)
    np.testing.assert_allclose(vol.predict(shifted), base + 0.1, atol=1e-5)
