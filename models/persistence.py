"""Save and load a trained model: a JSON manifest plus the state_dict (weights + normalisation).

``save_model(model, directory)`` writes ``manifest.json`` (kind, constructor config, feature
names, parameter count, SHA-256 of the weights file) and ``weights.pt``. ``load_model`` rebuilds
the model and refuses files that do not match their manifest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from models.features import FEATURE_NAMES
from models.network import NormalisedNet
from models.risk import RiskModel
from models.volatility import VolatilityModel

FORMAT_VERSION = 1
MODEL_KINDS: dict[str, type[NormalisedNet]] = {"volatility": VolatilityModel, "risk": RiskModel}


class ModelFileError(ValueError):
    """A saved model is missing, corrupted or does not match its manifest (names the path)."""


def save_model(model: NormalisedNet, path: str | Path) -> Path:
    """Write `model` to directory `path` (created); returns the manifest path."""
    kind = getattr(model, "kind", None)
    if kind not in MODEL_KINDS:
        raise TypeError(f"cannot save {type(model).__name__}: not one of {sorted(MODEL_KINDS)}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    weights = path / "weights.pt"
    torch.save(model.state_dict(), weights)
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config": model.config(),
        "feature_names": list(FEATURE_NAMES),
        "num_parameters": model.num_parameters(),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    }
    out = path / "manifest.json"
    out.write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def load_model(path: str | Path) -> NormalisedNet:
    """Load a model saved by `save_model` from directory `path` (in eval mode)."""
    path = Path(path)
    manifest_path, weights = path / "manifest.json", path / "weights.pt"
    for f in (manifest_path, weights):
        if not f.is_file():
            raise ModelFileError(f"{f}: file not found")
    try:
        manifest = json.loads(manifest_path.read_text())
        kind, config = manifest["kind"], manifest["config"]
        names, digest = manifest["feature_names"], manifest["weights_sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{manifest_path}: malformed manifest ({exc})") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{manifest_path}: unsupported format {manifest.get('format_version')}"
        )
    if kind not in MODEL_KINDS:
        raise ModelFileError(f"{manifest_path}: unknown model kind {kind!r}")
    if tuple(names) != FEATURE_NAMES:
        raise ModelFileError(
            f"{manifest_path}: trained on features {names}, code computes {list(FEATURE_NAMES)}"
        )
    data = weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise ModelFileError(f"{weights}: SHA-256 does not match the manifest")
    model = MODEL_KINDS[kind](**config)
    try:
        state = torch.load(weights, weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        raise ModelFileError(f"{weights}: weights do not fit {kind} {config} ({exc})") from exc
    return model.eval()
