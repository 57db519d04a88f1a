"""The EZKL proving pipeline as one straight sequence of file-to-file steps.

settings -> calibrate -> compile -> SRS -> setup (once per architecture), then
witness -> prove -> verify (once per prediction). Paths come from CircuitArtifacts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ezkl
import numpy as np
import torch

from circuits.artifacts import CircuitArtifacts, ProofArtifacts
from circuits.errors import EzklStepError
from circuits.export import export_onnx, onnx_parity
from circuits.fields import felt_from_ezkl_hex
from circuits.srs import prepare_srs

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class CircuitConfig:
    """Visibility and calibration choices for a circuit.

    Parameters are hashed so one verifying key serves every set of weights of the architecture
    (the weights' Poseidon hash is a public instance); inputs are hashed so raw features stay
    private while their commitment is public; outputs are public.
    """

    input_visibility: str = "hashed"
    output_visibility: str = "public"
    param_visibility: str = "hashed"
    calibration_target: str = "resources"


@dataclass(frozen=True)
class CircuitBuild:
    """What building a circuit produced and measured."""

    artifacts: CircuitArtifacts
    logrows: int
    input_scale: int
    output_scale: int
    onnx_max_abs_diff: float
    setup_seconds: float


@dataclass(frozen=True)
class Proof:
    """One proof and its public instances (as field-element integers)."""

    path: Path
    proof_bytes: bytes
    instances: list[int]
    prove_seconds: float


def _step(name: str, target: Path, fn: Callable[[], T]) -> T:
    """Run one EZKL step, turning its failure into an error that names the step and file."""
    log.info("ezkl %s -> %s", name, target.name)
    try:
        result = fn()
    except Exception as exc:  # ezkl raises bare RuntimeError/ValueError from Rust
        raise EzklStepError(f"ezkl {name} failed for {target}: {exc}") from exc
    if result is False:
        raise EzklStepError(f"ezkl {name} reported failure for {target}")
    return result


def _write_input(path: Path, features: np.ndarray) -> Path:
    data = np.asarray(features, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise EzklStepError(f"{path}: features contain NaN or infinity; refusing to prove them")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"input_data": [data.reshape(-1).tolist()]}))
    return path


def build_circuit(
    model: torch.nn.Module,
    example: torch.Tensor,
    calibration: torch.Tensor,
    artifacts: CircuitArtifacts,
    config: CircuitConfig | None = None,
    srs: Path | None = None,
) -> CircuitBuild:
    """Export `model`, build its EZKL circuit and keys under `artifacts`.

    `example` fixes the proved input shape; `calibration` rows (same feature width) choose the
    fixed-point scales. `srs` is a ceremony SRS file; without it a testing-only SRS is generated.
    """
    config = config or CircuitConfig()
    art = artifacts.ensure()
    export_onnx(model, example, art.onnx)
    parity = onnx_parity(model, art.onnx, calibration)
    log.info("onnx parity with torch: max |diff| = %.2e", parity)

    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = config.input_visibility
    run_args.output_visibility = config.output_visibility
    run_args.param_visibility = config.param_visibility
    _step(
        "gen_settings",
        art.settings,
        lambda: ezkl.gen_settings(str(art.onnx), str(art.settings), py_run_args=run_args),
    )

    flat = calibration.reshape(-1)
    usable = flat.numel() // example.numel() * example.numel()  # whole input-shaped samples only
    art.calibration_data.write_text(json.dumps({"input_data": [flat[:usable].tolist()]}))
    _step(
        "calibrate_settings",
        art.settings,
        lambda: ezkl.calibrate_settings(
            str(art.calibration_data), str(art.onnx), str(art.settings), config.calibration_target
        ),
    )
    _step(
        "compile_circuit",
        art.compiled,
        lambda: ezkl.compile_circuit(str(art.onnx), str(art.compiled), str(art.settings)),
    )

    settings = read_settings(art)
    logrows = settings["run_args"]["logrows"]
    prepare_srs(art.srs, logrows, ceremony=srs)
    start = time.perf_counter()
    _step(
        "setup",
        art.pk,
        lambda: ezkl.setup(str(art.compiled), str(art.vk), str(art.pk), str(art.srs)),
    )
    setup_seconds = time.perf_counter() - start
    return CircuitBuild(
        artifacts=art,
        logrows=logrows,
        input_scale=settings["model_input_scales"][0],
        output_scale=settings["model_output_scales"][0],
        onnx_max_abs_diff=parity,
        setup_seconds=setup_seconds,
    )


def read_settings(artifacts: CircuitArtifacts) -> dict[str, Any]:
    """The circuit's EZKL settings as a dict."""
    return json.loads(artifacts.settings.read_text())


def prove(artifacts: CircuitArtifacts, features: np.ndarray, name: str = "latest") -> Proof:
    """Witness and prove one prediction on `features` (shape of the circuit's input)."""
    out: ProofArtifacts = artifacts.proof_dir(name).ensure()
    _write_input(out.input, features)
    _step(
        "gen_witness",
        out.witness,
        lambda: ezkl.gen_witness(str(out.input), str(artifacts.compiled), str(out.witness)),
    )
    start = time.perf_counter()
    _step(
        "prove",
        out.proof,
        lambda: ezkl.prove(
            str(out.witness),
            str(artifacts.compiled),
            str(artifacts.pk),
            str(out.proof),
            str(artifacts.srs),
        ),
    )
    seconds = time.perf_counter() - start
    return load_proof(out.proof, prove_seconds=seconds)


def load_proof(path: Path, prove_seconds: float = float("nan")) -> Proof:
    """Read a proof file written by `ezkl.prove`."""
    data = json.loads(path.read_text())
    instances = [felt_from_ezkl_hex(w) for column in data["instances"] for w in column]
    return Proof(
        path=path,
        proof_bytes=bytes.fromhex(data["hex_proof"].removeprefix("0x")),
        instances=instances,
        prove_seconds=prove_seconds,
    )


def verify(artifacts: CircuitArtifacts, proof_path: Path) -> bool:
    """Verify a proof in Python against the circuit's verifying key."""
    try:
        return bool(
            ezkl.verify(
                str(proof_path), str(artifacts.settings), str(artifacts.vk), str(artifacts.srs)
            )
        )
    except Exception as exc:  # ezkl raises on an invalid proof instead of returning False
        log.info("python verification rejected %s: %s", proof_path, exc)
        return False
