import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.data import load_bundled
from models.features import build_features
from models.persistence import ModelFileError, load_model, save_model
from models.risk import RiskModel, fit_risk
from models.volatility import VolatilityModel, fit_volatility


@pytest.fixture(scope="module")
def trained() -> dict:
    f = build_features(load_bundled("msft")).slice(0, 800)
    return {
        "volatility": fit_volatility(f, epochs=30, hidden=4),
        "risk": fit_risk(f, epochs=30),
        "X": f.X[:50],
    }


@pytest.mark.parametrize(("kind", "cls"), [("volatility", VolatilityModel), ("risk", RiskModel)])
def test_save_load_round_trip(trained: dict, kind: str, cls: type, tmp_path: Path) -> None:
    model = trained[kind]
    manifest = save_model(model, tmp_path / kind)
    loaded = load_model(tmp_path / kind)
    assert type(loaded) is cls and loaded.config() == model.config()
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    np.testing.assert_array_equal(loaded.predict(trained["X"]), model.predict(trained["X"]))
    meta = json.loads(manifest.read_text())
    assert meta["kind"] == kind and meta["num_parameters"] == model.num_parameters()


def test_load_rejects_missing_tampered_and_mismatched_files(trained: dict, tmp_path: Path) -> None:
    d = tmp_path / "vol"
    with pytest.raises(ModelFileError, match=r"manifest\.json: file not found"):
        load_model(d)
    save_model(trained["volatility"], d)
    weights = d / "weights.pt"
    good = weights.read_bytes()
    weights.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(ModelFileError, match=r"weights\.pt: SHA-256 does not match"):
        load_model(d)
    weights.write_bytes(good)
    meta = json.loads((d / "manifest.json").read_text())
    (d / "manifest.json").write_text(json.dumps({**meta, "feature_names": ["a", "b"]}))
    with pytest.raises(ModelFileError, match="trained on features"):
        load_model(d)
    (d / "manifest.json").write_text(
        json.dumps({**meta, "config": {**meta["config"], "hidden": 9}})
    )
    with pytest.raises(ModelFileError, match="weights do not fit"):
        load_model(d)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="malformed manifest"):
        load_model(d)


def test_save_rejects_foreign_modules(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot save Linear"):
        save_model(torch.nn.Linear(2, 1), tmp_path)
