"""Manifests name models by their identity hash and catch tampering; bad run config is named."""

from __future__ import annotations

import json

import pytest
import torch

from federated.config import ConfigError, FederatedConfig
from federated.manifest import ManifestError, load_manifest, load_round_model, save_round
from federated.strategies import build_strategy
from federated.task import ProviderDataError, build_models, load_provider
from models.identity import model_hash, model_hash_hex


def _save(tmp_path, rnd: int = 1):
    models = build_models(seed=3)
    m = save_round(
        tmp_path,
        rnd,
        models,
        participants=["b", "a"],
        failures=0,
        aggregation="median",
        secagg=False,
        dp={"epsilon": 1.5, "delta": 1e-5, "noise_multiplier": 1.0, "clipping_norm": 1.0},
        metrics={"qlike": 0.4},
    )
    return models, m


def test_manifest_records_the_identity_hash_of_the_saved_file(tmp_path) -> None:
    models, m = _save(tmp_path)
    assert m.participants == ["a", "b"]
    on_disk = json.loads((tmp_path / "round-001" / "manifest.json").read_text())
    for name, model in models.items():
        loaded = load_round_model(tmp_path, 1, name, build_models(seed=99)[name])
        assert model_hash(loaded) == model_hash(model)
        assert on_disk["model_hashes"][name] == model_hash_hex(loaded)
    assert on_disk["dp"]["epsilon"] == 1.5 and on_disk["aggregation"] == "median"


def test_tampered_weights_are_rejected(tmp_path) -> None:
    _save(tmp_path)
    path = tmp_path / "round-001" / "risk.pt"
    state = torch.load(path, weights_only=True)
    state["skip.weight"] += 0.01
    torch.save(state, path)
    with pytest.raises(ManifestError, match=r"risk\.pt"):
        load_round_model(tmp_path, 1, "risk", build_models()["risk"])


def test_missing_and_malformed_manifests_are_named(tmp_path) -> None:
    with pytest.raises(ManifestError, match="round 4"):
        load_manifest(tmp_path, 4)
    _save(tmp_path, 2)
    (tmp_path / "round-002" / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="malformed"):
        load_manifest(tmp_path, 2)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"aggregation": "mean"}, "aggregation"),
        ({"no-such-key": 1}, "unknown run-config key"),
        ({"secagg": True, "aggregation": "median"}, "only supports fedavg"),
        ({"secagg": "yes"}, "true/false"),
        ({"num-server-rounds": "many"}, "num-server-rounds"),
        ({"attack": "poison"}, "attack"),
    ],
)
def test_bad_run_config_is_rejected_by_name(config, message) -> None:
    with pytest.raises(ConfigError, match=message):
        FederatedConfig.from_run_config(config)


def test_trimmed_mean_that_trims_nothing_and_dp_with_median_are_rejected() -> None:
    with pytest.raises(ConfigError, match="trims nothing"):
        build_strategy(FederatedConfig(aggregation="trimmed-mean", trim_beta=0.2), 3)
    with pytest.raises(ConfigError, match="fedavg"):
        build_strategy(FederatedConfig(aggregation="median", dp_noise_multiplier=1.0), 3)


def test_provider_specs_that_name_nothing_are_rejected(tmp_path) -> None:
    with pytest.raises(ProviderDataError, match="not found"):
        load_provider(str(tmp_path / "missing.csv"))
    with pytest.raises(ProviderDataError, match="integer seed"):
        load_provider("stress:abc")


def test_the_apps_default_run_config_is_the_published_configuration() -> None:
    """`flwr run .` with no overrides, the in-process defaults and what the demo publishes and
    `proofcast bench federated` measures are one configuration."""
    import tomllib
    from pathlib import Path

    from federated import config as published

    app = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    app_config = app["tool"]["flwr"]["app"]["config"]
    expected = {
        "num-server-rounds": published.PUBLISHED_ROUNDS,
        "local-epochs": published.PUBLISHED_LOCAL_EPOCHS,
        "learning-rate": published.PUBLISHED_LEARNING_RATE,
        "server-lr": published.PUBLISHED_SERVER_LR,
        "record-dp-noise-multiplier": published.PUBLISHED_RECORD_NOISE,
        "record-dp-clipping-norm": published.PUBLISHED_RECORD_CLIP,
        "record-dp-clipping-norm-risk": published.PUBLISHED_RECORD_CLIP_RISK,
        "dp-delta": published.PUBLISHED_DELTA,
        "secagg": published.PUBLISHED_SECAGG,
    }
    assert {k: app_config[k] for k in expected} == expected
    assert FederatedConfig.from_run_config(app_config) == FederatedConfig(
        output_dir=app_config["output-dir"]
    )


def test_provider_csv_not_in_utf8_is_one_error_naming_the_file(tmp_path) -> None:
    """The shared CSV reader (models.data.read_csv_text), not a UnicodeDecodeError."""
    from models.data import DataValidationError

    path = tmp_path / "provider.csv"
    path.write_bytes("date,open,high,low,close\n2024-01-02,1,2,1,1.5\n".encode("utf-16"))
    with pytest.raises(DataValidationError, match="UTF-16") as info:
        load_provider(str(path))
    assert str(path) in str(info.value)
