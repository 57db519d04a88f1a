"""Where every artifact of one circuit lives: each path is named once, here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CircuitArtifacts:
    """The files of one circuit, in pipeline order, all under `root`."""

    root: Path

    @property
    def onnx(self) -> Path:
        return self.root / "network.onnx"

    @property
    def calibration_data(self) -> Path:
        return self.root / "calibration.json"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def compiled(self) -> Path:
        return self.root / "network.ezkl"

    @property
    def srs(self) -> Path:
        return self.root / "kzg.srs"

    @property
    def vk(self) -> Path:
        return self.root / "vk.key"

    @property
    def pk(self) -> Path:
        return self.root / "pk.key"

    @property
    def verifier_sol(self) -> Path:
        return self.root / "Halo2Verifier.sol"

    @property
    def layout(self) -> Path:
        return self.root / "layout.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def model_dir(self, name: str) -> ModelArtifacts:
        """Paths for one set of weights compiled against this circuit's settings and keys."""
        return ModelArtifacts(self.root / "models" / name)

    def proof_dir(self, name: str) -> ProofArtifacts:
        """Paths for one proof (input, witness, proof) under `root/proofs/name`."""
        return ProofArtifacts(self.root / "proofs" / name)

    def ensure(self) -> CircuitArtifacts:
        self.root.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class ModelArtifacts:
    """The files of one set of weights (e.g. one federated round) for an existing circuit."""

    root: Path

    @property
    def onnx(self) -> Path:
        return self.root / "network.onnx"

    @property
    def compiled(self) -> Path:
        return self.root / "network.ezkl"

    def ensure(self) -> ModelArtifacts:
        self.root.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class ProofArtifacts:
    """The files of one proof."""

    root: Path

    @property
    def input(self) -> Path:
        return self.root / "input.json"

    @property
    def witness(self) -> Path:
        return self.root / "witness.json"

    @property
    def proof(self) -> Path:
        return self.root / "proof.json"

    def ensure(self) -> ProofArtifacts:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
