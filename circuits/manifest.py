"""The artifact manifest: what a circuit directory contains, so a node can refuse a mismatch.

Written once per architecture by `build_circuit`. It pins the EZKL version, the settings, the
verifying key and the Solidity verifier (by hash), the SRS (source and hash), the fixed-point
scales and the public-instance layout. `check_manifest` recomputes every hash from the files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ezkl

from circuits.artifacts import CircuitArtifacts
from circuits.errors import CircuitError
from circuits.layout import InstanceLayout
from circuits.srs import is_testing_srs

SRS_LOCAL = "local-testing-only"
SRS_CEREMONY = "ceremony"


class ArtifactMismatchError(CircuitError):
    """A circuit directory does not match its manifest (or the installed EZKL)."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CircuitManifest:
    """Identity of one circuit's artifact set."""

    ezkl_version: str
    architecture: str
    num_features: int
    logrows: int
    input_scale: int
    param_scale: int
    output_scale: int
    settings_sha256: str
    vk_sha256: str
    verifier_sha256: str
    srs_source: str
    srs_sha256: str
    model_hash: str
    layout: dict[str, Any]

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, path: Path) -> CircuitManifest:
        if not path.is_file():
            raise ArtifactMismatchError(f"no artifact manifest at {path}: run the circuit build")
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise ArtifactMismatchError(f"{path}: unreadable artifact manifest ({exc})") from exc

    def instance_layout(self) -> InstanceLayout:
        data = dict(self.layout)
        data.pop("num_instances", None)
        data["output_names"] = tuple(data["output_names"])
        return InstanceLayout(**data)


def srs_source(artifacts: CircuitArtifacts) -> str:
    return SRS_LOCAL if is_testing_srs(artifacts.srs) else SRS_CEREMONY


def check_manifest(artifacts: CircuitArtifacts) -> CircuitManifest:
    """Load the manifest and verify every pinned file and the EZKL version against it."""
    manifest = CircuitManifest.read(artifacts.manifest)
    if manifest.ezkl_version != ezkl.__version__:
        raise ArtifactMismatchError(
            f"{artifacts.manifest}: built with ezkl {manifest.ezkl_version}, "
            f"installed ezkl is {ezkl.__version__}"
        )
    pinned = {
        artifacts.settings: manifest.settings_sha256,
        artifacts.vk: manifest.vk_sha256,
        artifacts.verifier_sol: manifest.verifier_sha256,
        artifacts.srs: manifest.srs_sha256,
    }
    for path, expected in pinned.items():
        if not path.is_file():
            raise ArtifactMismatchError(f"{path} is missing (listed in {artifacts.manifest})")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactMismatchError(
                f"{path} has sha256 {actual[:16]}…, "
                f"manifest {artifacts.manifest} pins {expected[:16]}…"
            )
    for path in (artifacts.pk, artifacts.compiled):
        if not path.is_file():
            raise ArtifactMismatchError(f"{path} is missing (listed in {artifacts.manifest})")
    return manifest
