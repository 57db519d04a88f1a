"""The EZKL proving pipeline as one straight sequence of file-to-file steps.

Once per architecture (`build_circuit`):
    ONNX export -> settings -> calibrate -> compile -> SRS -> setup -> EVM verifier
    -> layout + manifest
Once per set of weights, e.g. a federated round (`compile_model`): ONNX export -> compile,
reusing the architecture's settings and keys (parameters are hashed, so the keys do not change).
Once per prediction (`prove`): witness -> prove, and `verify` in Python.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ezkl
import numpy as np
import torch

from circuits.artifacts import CircuitArtifacts, ModelArtifacts
from circuits.errors import CircuitError, EzklStepError
from circuits.evm import write_evm_verifier
from circuits.export import export_onnx, onnx_parity
from circuits.fields import felt_from_ezkl_hex
from circuits.layout import InstanceLayout
from circuits.manifest import CircuitManifest, sha256_file, srs_source
from circuits.srs import prepare_srs
from models.export import AsTrained, provable_graph
from models.identity import PARAM_SCALE, model_hash

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class CircuitConfig:
    """Visibility and calibration choices for a circuit.

    Parameters are hashed so one verifying key serves every set of weights of the architecture
    (the weights' Poseidon hash is a public instance); inputs are hashed so raw features stay
    private while their commitment is public; outputs are public. The parameter scale is fixed
    (models.identity.PARAM_SCALE) so a model's hash does not depend on calibration.
    """

    input_visibility: str = "hashed"
    output_visibility: str = "public"
    param_visibility: str = "hashed"
    calibration_target: str = "resources"
    input_scale: int = PARAM_SCALE
    lookup_safety_margin: float = 2.0
    num_inner_cols: int | None = 1  # fewer columns: smaller proofs, less gas (see results)
    # Freivalds' randomised einsum check adds challenge columns: off, the verifier is ~35 % cheaper,
    # fits EIP-170 as a single contract and proving is faster (README, "Circuits").
    disable_freivalds: bool = True
    # Inputs and outputs are not range-checked on their own when inputs are hashed: each input
    # is bound to the attesters' quantised features by the input commitment and enters the graph
    # through a clip whose ReLUs decompose (range-check) it, and each output leaves through the
    # output clip's ReLUs. The checks cost ~1.6k rows at K = 16, the margin that keeps the oracle
    # circuit at logrows 15 (README, "Circuits").
    range_check_io: bool = False
    # Export the model's `provable()` rewrite (folded normalisation, shared clips); False exports
    # the graph as trained (the benchmark's baseline row).
    rewrite_graph: bool = True
    output_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CircuitBuild:
    """What building a circuit produced and measured."""

    artifacts: CircuitArtifacts
    logrows: int
    input_scale: int
    output_scale: int
    onnx_max_abs_diff: float
    setup_seconds: float
    layout: InstanceLayout
    model_hash: int


@dataclass(frozen=True)
class Proof:
    """One proof and its public instances (as field-element integers)."""

    path: Path
    proof_bytes: bytes
    instances: list[int]
    prove_seconds: float
    witness_seconds: float = float("nan")


def _step(name: str, target: Path, fn: Callable[[], T]) -> T:
    """Run one EZKL step, turning its failure into an error that names the step and file."""
    log.debug("ezkl %s -> %s", name, target)
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


def read_settings(artifacts: CircuitArtifacts) -> dict[str, Any]:
    """The circuit's EZKL settings as a dict."""
    return json.loads(artifacts.settings.read_text())


def _run_args(config: CircuitConfig, num_feeds: int) -> ezkl.PyRunArgs:
    run_args = ezkl.PyRunArgs()
    run_args.variables = [("batch_size", num_feeds)]  # the ONNX batch axis = feeds per proof
    run_args.input_visibility = config.input_visibility
    run_args.output_visibility = config.output_visibility
    run_args.param_visibility = config.param_visibility
    run_args.input_scale = config.input_scale
    run_args.param_scale = PARAM_SCALE
    if config.num_inner_cols is not None:
        run_args.num_inner_cols = config.num_inner_cols
    run_args.disable_freivalds = config.disable_freivalds
    run_args.ignore_range_check_inputs_outputs = (
        not config.range_check_io and config.input_visibility == "hashed"
    )
    return run_args


def build_circuit(
    model: torch.nn.Module,
    example: torch.Tensor,
    calibration: torch.Tensor,
    artifacts: CircuitArtifacts,
    config: CircuitConfig | None = None,
    srs: Path | None = None,
) -> CircuitBuild:
    """Export `model`, build its EZKL circuit, keys, EVM artifacts and manifest under `artifacts`.

    `example` fixes the proved input shape [K feeds, F features]; `calibration` rows (same F)
    choose the lookup ranges. `srs` is a ceremony SRS file; without it a testing-only SRS is
    generated. Runs once per architecture: later weights use `compile_model`.
    """
    config = config or CircuitConfig()
    if config.param_visibility != "hashed":
        raise CircuitError(
            f"param_visibility {config.param_visibility!r}: Proofcast binds proofs to models "
            "through the hashed-parameter instance, so parameters must be 'hashed'"
        )
    art = artifacts.ensure()
    model = (model if config.rewrite_graph else AsTrained(model)).eval()
    export_onnx(model, example, art.onnx)
    parity = onnx_parity(model, art.onnx, calibration)
    log.info("onnx parity with torch: max |diff| = %.2e", parity)

    run_args = _run_args(config, int(example.shape[0]))
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
            str(art.calibration_data),
            str(art.onnx),
            str(art.settings),
            config.calibration_target,
            lookup_safety_margin=config.lookup_safety_margin,
            scales=[config.input_scale],
        ),
    )
    settings = read_settings(art)
    if settings["run_args"]["param_scale"] != PARAM_SCALE:
        raise CircuitError(
            f"{art.settings}: calibration chose param_scale {settings['run_args']['param_scale']}, "
            f"but model hashes assume {PARAM_SCALE}"
        )
    _step(
        "compile_circuit",
        art.compiled,
        lambda: ezkl.compile_circuit(str(art.onnx), str(art.compiled), str(art.settings)),
    )
    logrows = settings["run_args"]["logrows"]
    prepare_srs(art.srs, logrows, ceremony=srs)
    start = time.perf_counter()
    _step(
        "setup",
        art.pk,
        lambda: ezkl.setup(str(art.compiled), str(art.vk), str(art.pk), str(art.srs)),
    )
    setup_seconds = time.perf_counter() - start
    write_evm_verifier(art)

    num_feeds, outputs = example.shape[0], int(model(example[:1]).shape[-1])
    inputs_hashed = config.input_visibility == "hashed"
    layout = InstanceLayout(
        num_feeds=num_feeds,
        outputs_per_feed=outputs,
        output_scale=settings["model_output_scales"][0],
        output_names=config.output_names or tuple(f"out{j}" for j in range(outputs)),
        input_hash_index=0 if inputs_hashed else None,
        model_hash_index=1 if inputs_hashed else 0,
        first_output_index=2 if inputs_hashed else 1,
    )
    layout.write(art.layout)
    identity = model_hash(model)
    CircuitManifest(
        ezkl_version=ezkl.__version__,
        architecture=_describe(model, example),
        num_features=int(example.shape[-1]),
        logrows=logrows,
        input_scale=settings["run_args"]["input_scale"],
        param_scale=settings["run_args"]["param_scale"],
        output_scale=layout.output_scale,
        settings_sha256=sha256_file(art.settings),
        vk_sha256=sha256_file(art.vk),
        verifier_sha256=sha256_file(art.verifier_sol),
        srs_source=srs_source(art),
        srs_sha256=sha256_file(art.srs),
        model_hash="0x" + identity.to_bytes(32, "big").hex(),
        layout=json.loads(layout.to_json()),
    ).write(art.manifest)
    return CircuitBuild(
        artifacts=art,
        logrows=logrows,
        input_scale=settings["run_args"]["input_scale"],
        output_scale=layout.output_scale,
        onnx_max_abs_diff=parity,
        setup_seconds=setup_seconds,
        layout=layout,
        model_hash=identity,
    )


def _describe(model: torch.nn.Module, example: torch.Tensor) -> str:
    """The proved graph's shape: which module, the input shape and every constant's shape (a
    model whose networks were fit on different statistics exports separate input clips)."""
    graph = provable_graph(model)
    shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in graph.state_dict().items())
    return f"{type(model).__name__}(input={tuple(example.shape)}; {shapes})"


def compile_model(
    model: torch.nn.Module, artifacts: CircuitArtifacts, name: str, example: torch.Tensor
) -> ModelArtifacts:
    """Compile a new set of weights of the same architecture against the existing keys.

    No setup: with hashed parameters the proving and verifying keys serve every set of weights;
    the weights' hash becomes the proof's model-hash instance.
    """
    if artifacts.manifest.is_file():
        built = CircuitManifest.read(artifacts.manifest).architecture
        described = _describe(model, example)
        if described != built:
            raise CircuitError(
                f"{artifacts.manifest}: the circuit proves {built}, these weights export "
                f"{described}; they need a circuit of their own (build_circuit)"
            )
    out = artifacts.model_dir(name).ensure()
    export_onnx(model.eval(), example, out.onnx)
    onnx_parity(model, out.onnx, example)
    _step(
        "compile_circuit",
        out.compiled,
        lambda: ezkl.compile_circuit(str(out.onnx), str(out.compiled), str(artifacts.settings)),
    )
    return out


def witness_outputs(
    artifacts: CircuitArtifacts,
    features: np.ndarray,
    name: str = "latest",
    compiled: Path | None = None,
) -> list[int]:
    """Public instances the circuit would expose for `features`, without proving (fast)."""
    out = artifacts.proof_dir(name).ensure()
    _write_input(out.input, features)
    circuit = compiled or artifacts.compiled
    witness = _step(
        "gen_witness",
        out.witness,
        lambda: ezkl.gen_witness(str(out.input), str(circuit), str(out.witness)),
    )
    return [felt_from_ezkl_hex(w) for column in _witness_instances(witness) for w in column]


def _witness_instances(witness: dict[str, Any]) -> Sequence[Sequence[str]]:
    processed = [
        witness[key]["poseidon_hash"]
        for key in ("processed_inputs", "processed_params")
        if witness.get(key) and witness[key].get("poseidon_hash")
    ]
    return [[*(h for hashes in processed for h in hashes), *witness["outputs"][0]]]


def prove(
    artifacts: CircuitArtifacts,
    features: np.ndarray,
    name: str = "latest",
    compiled: Path | None = None,
) -> Proof:
    """Witness and prove one batch of `features` (the circuit's input shape [K, F]).

    `compiled` selects another set of weights compiled by `compile_model`; by default the
    weights the circuit was built with.
    """
    out = artifacts.proof_dir(name).ensure()
    circuit = compiled or artifacts.compiled
    _write_input(out.input, features)
    start = time.perf_counter()
    _step(
        "gen_witness",
        out.witness,
        lambda: ezkl.gen_witness(str(out.input), str(circuit), str(out.witness)),
    )
    witness_seconds = time.perf_counter() - start
    start = time.perf_counter()
    _step(
        "prove",
        out.proof,
        lambda: ezkl.prove(
            str(out.witness), str(circuit), str(artifacts.pk), str(out.proof), str(artifacts.srs)
        ),
    )
    proof = load_proof(out.proof)
    return Proof(
        path=proof.path,
        proof_bytes=proof.proof_bytes,
        instances=proof.instances,
        prove_seconds=time.perf_counter() - start,
        witness_seconds=witness_seconds,
    )


def load_proof(path: Path) -> Proof:
    """Read a proof file written by `ezkl.prove`."""
    try:
        data = json.loads(path.read_text())
        instances = [felt_from_ezkl_hex(w) for column in data["instances"] for w in column]
        proof_bytes = bytes.fromhex(data["hex_proof"].removeprefix("0x"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EzklStepError(f"{path}: not a readable EZKL proof ({exc})") from exc
    return Proof(
        path=path, proof_bytes=proof_bytes, instances=instances, prove_seconds=float("nan")
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
