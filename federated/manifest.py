"""Per-round global models on disk, each with a JSON manifest naming it by its on-chain identity.

Layout under the run's output directory:

    round-003/volatility.pt   state_dict of the global volatility model after round 3
    round-003/risk.pt         state_dict of the global risk model
    round-003/manifest.json   round, participants, metrics, DP (epsilon, delta), aggregation,
                              each model's identity hash (`models.identity.model_hash_hex`), and
                              `oracle_model_hash`: the hash of `models.oracle_model.OracleModel`
                              over both, i.e. the model-hash instance the oracle's proofs carry
    run.json                  the run config and the list of rounds written so far
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from eth_utils import keccak

from models.identity import PARAM_SCALE, model_hash_hex


def metrics_hash(metrics: Mapping[str, Any]) -> bytes:
    """keccak256 of a round's metrics as sorted-key JSON: what `registerModel` records on chain."""
    return keccak(text=json.dumps(dict(metrics), sort_keys=True))


class ManifestError(ValueError):
    """A saved round is missing, malformed, or its weights do not match its recorded hash."""


def public_name(spec: str) -> str:
    """The public name of a provider's data `spec`: a bundled or generated series keeps its spec,
    anything else (a CSV path) becomes `provider-` and 8 hex digits of its hash, so a provider's
    file path never reaches a manifest, the chain or the explorer."""
    if spec.startswith(("bundled:", "stress:")):
        return spec
    return "provider-" + hashlib.sha256(spec.encode()).hexdigest()[:8]


def looks_like_path(value: str) -> bool:
    """True for a string that names a file or directory (a separator, or `~`)."""
    return "/" in value or "\\" in value or value.startswith("~")


_PATH_TOKEN = re.compile(r"(?:[A-Za-z]:)?[~.]?[\\/][^\s'\"<>:]*")


def failure_reason(node: int | str, reason: str) -> str:
    """One line for a provider that failed a round: its node and the last line of its error,
    with any path replaced by `<path>` (a reason must not leak a provider's files)."""
    lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
    last = _PATH_TOKEN.sub("<path>", lines[-1] if lines else "no reason given")
    return f"node {node}: {last[:200]}"


def check_no_paths(value: Any, where: str) -> None:
    """Raise `ManifestError` when any string in `value` (nested dicts and lists) looks like a
    file path: manifests are public and name providers by label only."""
    if isinstance(value, str):
        if looks_like_path(value):
            raise ManifestError(f"{where}: {value!r} looks like a file path (manifests hold none)")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_no_paths(key, where)
            check_no_paths(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            check_no_paths(item, where)


@dataclass
class RoundManifest:
    """What one federated round produced."""

    round: int
    participants: list[str]
    failures: int
    aggregation: str
    secagg: bool
    dp: dict[str, float | None]
    metrics: dict[str, float]
    model_hashes: dict[str, str]
    param_scale: int = PARAM_SCALE
    files: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    oracle_model_hash: str = ""
    failure_reasons: list[str] = field(default_factory=list)


def round_dir(output_dir: Path, server_round: int) -> Path:
    """Directory holding round `server_round`'s models and manifest."""
    return Path(output_dir) / f"round-{server_round:03d}"


def save_round(
    output_dir: Path,
    server_round: int,
    models: Mapping[str, torch.nn.Module],
    *,
    participants: list[str],
    failures: int,
    aggregation: str,
    secagg: bool,
    dp: dict[str, float | None],
    metrics: Mapping[str, float],
    seconds: float = 0.0,
    failure_reasons: list[str] | None = None,
) -> RoundManifest:
    """Write each model's state_dict and the round manifest; return the manifest."""
    directory = round_dir(output_dir, server_round)
    directory.mkdir(parents=True, exist_ok=True)
    files, hashes = {}, {}
    for name, model in models.items():
        path = directory / f"{name}.pt"
        torch.save(model.state_dict(), path)
        files[name] = path.name
        hashes[name] = model_hash_hex(model)
    oracle_hash = ""
    if "volatility" in models and "risk" in models:
        from models.oracle_model import OracleModel

        oracle_hash = model_hash_hex(OracleModel(models["volatility"], models["risk"]))
    manifest = RoundManifest(
        oracle_model_hash=oracle_hash,
        round=server_round,
        participants=sorted(participants),
        failures=failures,
        aggregation=aggregation,
        secagg=secagg,
        dp=dict(dp),
        metrics={k: float(v) for k, v in metrics.items()},
        model_hashes=hashes,
        files=files,
        seconds=seconds,
        failure_reasons=list(failure_reasons or []),
    )
    record = asdict(manifest)
    check_no_paths(record, f"round {server_round} manifest")
    tmp = directory / "manifest.json.tmp"
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
    tmp.replace(directory / "manifest.json")
    return manifest


def write_run_summary(output_dir: Path, run_config: Mapping[str, Any], rounds: list[int]) -> Path:
    """Write `run.json`: the run config and the rounds saved (latest last). Provider specs are
    replaced by their public names and the output directory (where run.json lives) is left out,
    so the file holds no path."""
    config = {k: v for k, v in run_config.items() if k != "output-dir"}
    if isinstance(config.get("providers"), str) and config["providers"]:
        specs = config["providers"].split(",")
        config["providers"] = ",".join(public_name(spec.strip()) for spec in specs)
    check_no_paths(config, "run.json config")
    path = Path(output_dir) / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": config, "rounds": rounds}, indent=2))
    return path


def load_manifest(output_dir: Path, server_round: int) -> RoundManifest:
    """Read round `server_round`'s manifest, raising `ManifestError` naming the file."""
    path = round_dir(output_dir, server_round) / "manifest.json"
    if not path.is_file():
        raise ManifestError(f"no manifest for round {server_round}: {path} does not exist")
    return read_manifest(path)


def read_manifest(path: Path) -> RoundManifest:
    """Parse the manifest file at `path`, raising `ManifestError` naming it when malformed."""
    try:
        return RoundManifest(**json.loads(Path(path).read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise ManifestError(f"malformed manifest {path}: {exc}") from exc


def load_round_model(
    output_dir: Path, server_round: int, name: str, model: torch.nn.Module
) -> torch.nn.Module:
    """Load round `server_round`'s weights for `name` into `model`, checking the recorded hash.

    `model` must be a freshly built module of the right architecture. Raises `ManifestError` if
    the file is missing or its identity hash differs from the manifest (tampered or mismatched).
    """
    manifest = load_manifest(output_dir, server_round)
    if name not in manifest.files:
        raise ManifestError(f"round {server_round} has no model {name!r}: {sorted(manifest.files)}")
    path = round_dir(output_dir, server_round) / manifest.files[name]
    if not path.is_file():
        raise ManifestError(f"model file missing: {path}")
    model.load_state_dict(torch.load(path, weights_only=True))
    actual = model_hash_hex(model, manifest.param_scale)
    if actual != manifest.model_hashes[name]:
        raise ManifestError(
            f"{path}: identity hash {actual} != manifest {manifest.model_hashes[name]}"
        )
    return model.eval()
