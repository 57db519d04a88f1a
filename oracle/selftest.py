"""One prediction through the whole pipe: model -> ONNX -> circuit -> proof -> chain.

This is the foundation run that `proofcast demo` performs on embedded defaults: a placeholder
model, a locally generated (testing-only) SRS, and an anvil chain started on a free loopback port
unless an RPC URL is given.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from circuits.artifacts import CircuitArtifacts
from circuits.fields import R
from circuits.pipeline import build_circuit, prove, verify
from models.placeholder import make_placeholder_model, sample_features
from oracle.chain.anvil import ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.verifier import deploy_verifier, verification_gas, verify_on_chain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelftestReport:
    """Measured outcome of one end-to-end run."""

    logrows: int
    onnx_max_abs_diff: float
    setup_seconds: float
    prove_seconds: float
    python_verified: bool
    proved_outputs: list[float]
    float_outputs: list[float]
    verifier_runtime_bytes: int
    deploy_gas: int
    verify_gas: int
    accepted_on_chain: bool
    rejected_flipped_byte: bool
    rejected_changed_output: bool
    rpc_url: str


def flip_byte(data: bytes, index: int) -> bytes:
    """`data` with the byte at `index` inverted."""
    out = bytearray(data)
    out[index] ^= 0xFF
    return bytes(out)


def bump_instance(instances: list[int], index: int) -> list[int]:
    """`instances` with element `index` increased by one (mod the field)."""
    out = list(instances)
    out[index] = (out[index] + 1) % R
    return out


@contextlib.contextmanager
def chain_endpoint(workdir: Path, rpc_url: str | None) -> Iterator[str]:
    """Yield `rpc_url`, or that of an anvil started for the duration of the block."""
    if rpc_url:
        yield rpc_url
        return
    with AnvilNode(log_path=workdir / "anvil.log") as node:
        yield node.rpc_url


def run_selftest(
    workdir: Path,
    rpc_url: str | None = None,
    private_key: str = ANVIL_DEV_KEY,
    srs: Path | None = None,
    seed: int = 0,
) -> SelftestReport:
    """Build, prove and verify one prediction of the placeholder model, in Python and on chain."""
    workdir.mkdir(parents=True, exist_ok=True)
    model = make_placeholder_model(seed)
    artifacts = CircuitArtifacts(workdir / "circuit")
    build = build_circuit(
        model, sample_features(1), sample_features(64, seed=seed + 1), artifacts, srs=srs
    )

    features = sample_features(1, seed=seed + 2)
    proof = prove(artifacts, features.numpy())
    python_ok = verify(artifacts, proof.path)
    with torch.no_grad():
        float_out = model(features).reshape(-1).tolist()
    proved_out = build.layout.float_outputs(proof.instances)[0]

    with chain_endpoint(workdir, rpc_url) as url:
        w3 = connect(url, private_key)
        verifier = deploy_verifier(w3, artifacts)
        start = time.perf_counter()
        accepted = verify_on_chain(verifier, proof.proof_bytes, proof.instances)
        log.info("on-chain verification call took %.2fs", time.perf_counter() - start)
        gas = verification_gas(verifier, proof.proof_bytes, proof.instances) if accepted else 0
        flipped = flip_byte(proof.proof_bytes, len(proof.proof_bytes) // 2)
        rejected_flip = not verify_on_chain(verifier, flipped, proof.instances)
        changed = bump_instance(proof.instances, build.layout.output_index(0, 0))
        rejected_output = not verify_on_chain(verifier, proof.proof_bytes, changed)

    return SelftestReport(
        logrows=build.logrows,
        onnx_max_abs_diff=build.onnx_max_abs_diff,
        setup_seconds=build.setup_seconds,
        prove_seconds=proof.prove_seconds,
        python_verified=python_ok,
        proved_outputs=proved_out,
        float_outputs=float_out,
        verifier_runtime_bytes=verifier.runtime_size,
        deploy_gas=verifier.deploy_gas,
        verify_gas=gas,
        accepted_on_chain=accepted,
        rejected_flipped_byte=rejected_flip,
        rejected_changed_output=rejected_output,
        rpc_url=url,
    )
