"""Off-chain circuit measurements: size, setup, proving, verification and quantisation error.

`measure_circuit` builds one circuit (model x K feeds x config) and returns a row of numbers; the
`proofcast bench circuits` command adds on-chain gas and writes results/circuits.{md,json}.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from circuits.artifacts import CircuitArtifacts
from circuits.layout import InstanceLayout
from circuits.pipeline import CircuitConfig, Proof, build_circuit, prove, verify, witness_outputs


@dataclass(frozen=True)
class QuantisationError:
    """Proved (fixed-point) outputs against the float model on an evaluation set."""

    max_abs: float
    mean_abs: float
    max_rel: float
    mean_rel: float
    samples: int


@dataclass
class CircuitMeasurement:
    """One benchmark row (on-chain fields are filled in by the caller)."""

    model: str
    num_feeds: int
    config: str
    logrows: int
    setup_seconds: float
    pk_bytes: int
    vk_bytes: int
    witness_seconds: float
    prove_seconds: float
    verify_seconds: float
    proof_bytes: int
    num_instances: int
    quantisation: QuantisationError
    prove_peak_rss_mb: float = float("nan")
    verify_gas: int | None = None
    calldata_bytes: int | None = None


def quantisation_error(
    model: torch.nn.Module,
    artifacts: CircuitArtifacts,
    evaluation: torch.Tensor,
    log_outputs: tuple[bool, ...] = (),
    rel_floor: float = 1e-3,
) -> QuantisationError:
    """Compare circuit outputs (from witnesses, no proving) with torch on `evaluation` rows.

    Relative error is measured in the units a consumer uses: for outputs flagged in
    `log_outputs` (a log volatility) on exp(output), i.e. |exp(proved - float) - 1|; otherwise
    |proved - float| / max(|float|, rel_floor).
    """
    layout = InstanceLayout.read(artifacts.layout)
    num_feeds = layout.num_feeds
    usable = evaluation.shape[0] // num_feeds * num_feeds
    batches = evaluation[:usable].reshape(-1, num_feeds, evaluation.shape[-1])
    abs_errors: list[np.ndarray] = []
    rel_errors: list[np.ndarray] = []
    with torch.no_grad():
        for i, batch in enumerate(batches):
            expected = model(batch).numpy()
            instances = witness_outputs(artifacts, batch.numpy(), name=f"quant-{i}")
            proved = np.array(layout.float_outputs(instances))
            diff = np.abs(proved - expected)
            rel = diff / np.maximum(np.abs(expected), rel_floor)
            for j, is_log in enumerate(log_outputs):
                if is_log:
                    rel[:, j] = np.abs(np.expm1(proved[:, j] - expected[:, j]))
            abs_errors.append(diff.reshape(-1))
            rel_errors.append(rel.reshape(-1))
    abs_all, rel_all = np.concatenate(abs_errors), np.concatenate(rel_errors)
    return QuantisationError(
        max_abs=float(abs_all.max()),
        mean_abs=float(abs_all.mean()),
        max_rel=float(rel_all.max()),
        mean_rel=float(rel_all.mean()),
        samples=int(abs_all.size),
    )


def _prove_in_child(artifacts: CircuitArtifacts, features: np.ndarray, name: str) -> tuple:
    proof = prove(artifacts, features, name=name)
    return proof, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prove_with_peak_memory(
    artifacts: CircuitArtifacts, features: np.ndarray, name: str
) -> tuple[Proof, float]:
    """`prove` in a fresh process; returns the proof and that process's peak RSS in MB
    (interpreter and EZKL included: what a node proving this circuit needs)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_prove_in_child, (artifacts, features, name))


def measure_circuit(
    name: str,
    model: torch.nn.Module,
    features: torch.Tensor,
    num_feeds: int,
    workdir: Path,
    config: CircuitConfig | None = None,
    config_label: str = "default",
    srs: Path | None = None,
    log_outputs: tuple[bool, ...] = (),
) -> tuple[CircuitMeasurement, CircuitArtifacts, Proof]:
    """Build a K-feed circuit for `model` on rows of `features` and measure it.

    The first 75% of rows calibrate, the rest evaluate the quantisation error.
    """
    split = int(features.shape[0] * 0.75)
    calibration, evaluation = features[:split], features[split:]
    artifacts = CircuitArtifacts(workdir)
    build = build_circuit(
        model, evaluation[:num_feeds], calibration, artifacts, config=config, srs=srs
    )
    proof, peak_mb = prove_with_peak_memory(artifacts, evaluation[:num_feeds].numpy(), "bench")
    start = time.perf_counter()
    ok = verify(artifacts, proof.path)
    verify_seconds = time.perf_counter() - start
    if not ok:
        raise RuntimeError(f"{proof.path}: benchmark proof did not verify")
    quant = quantisation_error(model, artifacts, evaluation, log_outputs)
    row = CircuitMeasurement(
        model=name,
        num_feeds=num_feeds,
        config=config_label,
        logrows=build.logrows,
        setup_seconds=build.setup_seconds,
        pk_bytes=artifacts.pk.stat().st_size,
        vk_bytes=artifacts.vk.stat().st_size,
        witness_seconds=proof.witness_seconds,
        prove_seconds=proof.prove_seconds,
        verify_seconds=verify_seconds,
        proof_bytes=len(proof.proof_bytes),
        num_instances=len(proof.instances),
        quantisation=quant,
        prove_peak_rss_mb=peak_mb,
    )
    return row, artifacts, proof
