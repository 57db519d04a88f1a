"""`proofcast circuit compile-round`: a federated round's OracleModel as an EZKL circuit.

A new architecture gets a circuit of its own (`build_circuit`: settings, calibration, keys,
verifier); new weights of a deployed architecture are compiled against the existing keys
(`compile_model`, no new verifier) under `<circuit>/models/round-NNN`, which a node proves with
`model = "round-NNN"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from circuits.artifacts import CircuitArtifacts
from circuits.pipeline import CircuitBuild, CircuitConfig, build_circuit, compile_model
from federated.manifest import ManifestError, RoundManifest, load_round_model
from models.data import PriceSeries, load_bundled, load_ohlc_csv
from models.features import build_features
from models.identity import model_hash
from models.oracle_model import OUTPUT_NAMES, OracleModel
from models.risk import RiskModel
from models.volatility import VolatilityModel
from oracle.ops.admin import load_round_manifest

CALIBRATION_ROWS = 128  # recent rows per feed that choose the circuit's lookup ranges


def load_series(name: str) -> PriceSeries:
    """A bundled series by name (e.g. sp500) or an OHLC CSV file by path."""
    path = Path(name)
    if path.suffix == ".csv" or path.exists():
        return load_ohlc_csv(path)
    return load_bundled(name)


def build_oracle_circuit(
    model: OracleModel, feeds: Sequence[PriceSeries], artifacts: CircuitArtifacts,
    srs: Path | None = None,
) -> CircuitBuild:  # fmt: skip
    """`model` as a circuit proving len(feeds) feeds per report, its lookup ranges chosen on
    each feed's CALIBRATION_ROWS most recent feature rows."""
    features = [build_features(series) for series in feeds]
    latest = np.stack([f.X[-1] for f in features])
    calibration = np.concatenate([f.X[-CALIBRATION_ROWS:] for f in features])
    return build_circuit(
        model,
        torch.as_tensor(latest, dtype=torch.float32),
        torch.as_tensor(calibration, dtype=torch.float32),
        artifacts,
        CircuitConfig(output_names=OUTPUT_NAMES),
        srs=srs,
    )


def load_round_oracle_model(round_dir: Path) -> tuple[OracleModel, RoundManifest]:
    """The round's OracleModel (weights checked against the manifest's hashes)."""
    round_dir = Path(round_dir)
    manifest = load_round_manifest(round_dir)
    if round_dir.resolve().name != f"round-{manifest.round:03d}":
        raise ManifestError(f"{round_dir}: its manifest is round {manifest.round}")
    parent = round_dir.resolve().parent
    vol = load_round_model(parent, manifest.round, "volatility", VolatilityModel())
    risk = load_round_model(parent, manifest.round, "risk", RiskModel())
    model = OracleModel(vol, risk).eval()
    expected = manifest.oracle_model_hash
    actual = "0x" + model_hash(model).to_bytes(32, "big").hex()
    if expected != actual:
        raise ManifestError(
            f"{round_dir}: the round's networks hash to {actual}, its manifest says "
            f"oracle_model_hash {expected or '(none)'}"
        )
    return model, manifest


@dataclass(frozen=True)
class CompiledRound:
    """Where a round's circuit or compiled weights went."""

    round: int
    model_hash: str
    circuit: Path
    model_name: str | None  # set when compiled into an existing circuit (node.model)
    logrows: int | None = None
    setup_seconds: float | None = None


def compile_round(
    round_dir: Path, out: Path, feeds: Sequence[str], srs: Path | None = None
) -> CompiledRound:
    """Compile round `round_dir` into the circuit at `out`: new weights of an existing circuit
    (out/manifest.json present) go under out/models/round-NNN; otherwise a new circuit for
    `feeds` (bundled names or CSV paths, one proof slot each) is built at `out`."""
    model, manifest = load_round_oracle_model(round_dir)
    artifacts = CircuitArtifacts(Path(out))
    series = [load_series(f) for f in feeds]
    if not series:
        raise ValueError("--feeds: name at least one feed (its data calibrates the circuit)")
    if artifacts.manifest.is_file():
        example = torch.as_tensor(
            np.stack([build_features(s).X[-1] for s in series]), dtype=torch.float32
        )
        name = f"round-{manifest.round:03d}"
        compile_model(model, artifacts, name, example)
        return CompiledRound(manifest.round, manifest.oracle_model_hash, artifacts.root, name)
    build = build_oracle_circuit(model, series, artifacts, srs)
    return CompiledRound(
        manifest.round, manifest.oracle_model_hash, artifacts.root, None, build.logrows,
        build.setup_seconds,
    )  # fmt: skip
