"""The federated app end to end in Flower's simulation engine: rounds, manifests, normalisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from federated.manifest import load_manifest, load_round_model
from federated.task import (
    build_models,
    combine_sums,
    feature_sums,
    load_provider,
    normalisation_from_sums,
)
from models.features import SCALE_ONLY
from models.identity import model_hash_hex
from models.oracle_model import OracleModel
from models.volatility import log_ratio_target
from tests.federated.conftest import PROVIDERS


@pytest.fixture(scope="module")
def clean(simulated):
    return simulated("clean", **{"num-server-rounds": 2})


def test_every_round_is_saved_with_a_manifest(clean) -> None:
    summary = json.loads((clean / "run.json").read_text())
    assert summary["rounds"] == [1, 2]
    for rnd in (1, 2):
        m = load_manifest(clean, rnd)
        assert m.round == rnd
        assert m.participants == sorted(PROVIDERS)
        assert m.failures == 0
        assert m.aggregation == "fedavg" and m.secagg is False
        assert m.dp["epsilon"] is None
        assert np.isfinite(m.metrics["qlike"]) and m.metrics["qlike"] > 0
        assert 0.0 <= m.metrics["var-breach-rate"] <= 1.0


def test_manifest_hash_is_the_model_identity_of_the_saved_weights(clean) -> None:
    for rnd in (1, 2):
        m = load_manifest(clean, rnd)
        for name in ("volatility", "risk"):
            model = load_round_model(clean, rnd, name, build_models()[name])
            assert model_hash_hex(model) == m.model_hashes[name]
        oracle = OracleModel(
            load_round_model(clean, rnd, "volatility", build_models()["volatility"]),
            load_round_model(clean, rnd, "risk", build_models()["risk"]),
        )
        assert m.oracle_model_hash == model_hash_hex(oracle)  # what the proofs will carry
    # Training moved the weights: consecutive rounds are different models.
    assert load_manifest(clean, 1).model_hashes != load_manifest(clean, 2).model_hashes


def test_normalisation_equals_the_pooled_statistics_without_pooling(clean) -> None:
    data = [load_provider(p) for p in PROVIDERS]
    from_sums = normalisation_from_sums(combine_sums([feature_sums(d) for d in data]))
    pooled_x = np.concatenate([d.x_train for d in data]).astype(np.float64)
    np.testing.assert_allclose(from_sums["x_mean"], pooled_x.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(from_sums["x_std"], pooled_x.std(axis=0), rtol=1e-6)
    vol = load_round_model(clean, 2, "volatility", build_models()["volatility"])
    shift = pooled_x.mean(axis=0)
    shift[list(SCALE_ONLY)] = 0.0  # the VaR input is normalised by its std only
    np.testing.assert_allclose(vol.x_shift.numpy(), shift.astype(np.float32), rtol=1e-5)
    np.testing.assert_allclose(
        vol.x_scale.numpy(), (1 / pooled_x.std(axis=0)).astype(np.float32), rtol=1e-5
    )
    # The volatility network learns the log ratio of next-day vol to the EWMA baseline.
    pooled_y = np.concatenate([log_ratio_target(d.x_train, d.logvol_train) for d in data])
    assert float(vol.y_shift) == pytest.approx(0.5 * np.log(np.exp(2 * pooled_y).mean()), rel=1e-5)
    assert float(vol.y_scale) == pytest.approx(pooled_y.std(), rel=1e-5)
    # One normalisation path: a central fit on the pooled rows gets the very same buffers
    # (clip ranges included), apart from the trained weights.
    central = build_models()["volatility"]
    central.set_normalisation(pooled_x, float(vol.y_shift), float(vol.y_scale))
    for name, buffer in central.named_buffers():
        np.testing.assert_allclose(
            dict(vol.named_buffers())[name].numpy(), buffer.numpy(), rtol=1e-5, atol=1e-6
        )


def test_saved_models_are_plain_torch_state_dicts(clean) -> None:
    state = torch.load(clean / "round-002" / "volatility.pt", weights_only=True)
    assert set(state) == set(build_models()["volatility"].state_dict())
