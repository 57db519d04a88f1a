"""`proofcast bench circuits`: circuit size, speed, accuracy and on-chain gas for K feeds.

Off-chain numbers come from circuits.benchmark; this adds verification gas and calldata size on
an anvil chain started for the run, and writes results/circuits.{md,json}.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from circuits.benchmark import CircuitMeasurement, measure_circuit
from circuits.pipeline import CircuitConfig
from oracle.chain.anvil import ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.verifier import (
    deploy_verifier,
    verification_gas,
    verify_calldata_bytes,
    verify_on_chain,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A model to benchmark, the feature rows to calibrate and evaluate on, and which of its
    outputs are logarithms (their error is reported on the exponentiated value)."""

    name: str
    model: torch.nn.Module
    features: torch.Tensor
    log_outputs: tuple[bool, ...] = ()


def run_circuits_benchmark(
    specs: Sequence[ModelSpec],
    out_dir: Path,
    workdir: Path,
    feeds: Sequence[int] = (1, 4, 16),
    configs: Sequence[tuple[str, CircuitConfig]] = (("default", CircuitConfig()),),
    progress: Callable[[str], None] = log.info,
) -> list[CircuitMeasurement]:
    """Measure every (model, K, config) combination and write the results files."""
    rows: list[CircuitMeasurement] = []
    with AnvilNode(log_path=None) as node:
        w3 = connect(node.rpc_url, ANVIL_DEV_KEY)
        for spec in specs:
            for k in feeds:
                for label, config in configs:
                    name = spec.name
                    progress(f"{name}: K={k}, {label}")
                    row, artifacts, proof = measure_circuit(
                        name,
                        spec.model,
                        spec.features,
                        k,
                        workdir / f"{name}-k{k}-{label}",
                        config=config,
                        config_label=label,
                        log_outputs=spec.log_outputs,
                    )
                    verifier = deploy_verifier(w3, artifacts)
                    if not verify_on_chain(verifier, proof.proof_bytes, proof.instances):
                        raise RuntimeError(f"{name} K={k} {label}: proof rejected on chain")
                    row.verify_gas = verification_gas(verifier, proof.proof_bytes, proof.instances)
                    row.calldata_bytes = verify_calldata_bytes(
                        verifier, proof.proof_bytes, proof.instances
                    )
                    rows.append(row)
                    progress(_summary(row))
    write_results(rows, out_dir)
    return rows


def _summary(row: CircuitMeasurement) -> str:
    return (
        f"{row.model} K={row.num_feeds} {row.config}: logrows={row.logrows} "
        f"prove={row.witness_seconds + row.prove_seconds:.1f}s gas={row.verify_gas:,} "
        f"max rel err={row.quantisation.max_rel:.2e}"
    )


def write_results(rows: Sequence[CircuitMeasurement], out_dir: Path) -> None:
    """results/circuits.json (every field) and results/circuits.md (a table)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "circuits.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    header = (
        "| model | K | config | logrows | setup s | pk MB | witness+prove s | prove peak MB | "
        "verify s | proof B | calldata B | verify gas | gas/feed | max abs err | mean abs err | "
        "max rel err |\n|" + "---|" * 16 + "\n"
    )
    lines = [
        f"| {r.model} | {r.num_feeds} | {r.config} | {r.logrows} | {r.setup_seconds:.1f} | "
        f"{r.pk_bytes / 1e6:.0f} | {r.witness_seconds + r.prove_seconds:.2f} | "
        f"{r.prove_peak_rss_mb:.0f} | "
        f"{r.verify_seconds:.2f} | {r.proof_bytes} | {r.calldata_bytes} | {r.verify_gas or 0:,} | "
        f"{(r.verify_gas or 0) // r.num_feeds:,} | {r.quantisation.max_abs:.2e} | "
        f"{r.quantisation.mean_abs:.2e} | {r.quantisation.max_rel:.2e} |"
        for r in rows
    ]
    text = "# Circuit benchmark\n\n" + header + "\n".join(lines) + "\n"
    (out_dir / "circuits.md").write_text(text)


# Levers measured by `proofcast bench circuits --knobs`, today's configuration first, then the
# configuration before the graph rewrite as the baseline. Not here: input scale (EZKL calibrates
# inputs and parameters with one scale list, and the parameter scale is fixed by the model
# hash) and polycommit inputs (attesters recompute a Poseidon input commitment, not a KZG one).
KNOB_CONFIGS: tuple[tuple[str, CircuitConfig], ...] = (
    ("default", CircuitConfig()),  # what the demo and the node use
    ("baseline", CircuitConfig(rewrite_graph=False, range_check_io=True)),  # before the rewrite
    ("range-checked-io", CircuitConfig(range_check_io=True)),
    ("inner-cols-2", CircuitConfig(num_inner_cols=2)),
    ("target-accuracy", CircuitConfig(calibration_target="accuracy")),
    ("private-inputs", CircuitConfig(input_visibility="private")),  # cost of the input hash
)


def benchmark_specs(series: str = "sp500", seed: int = 0) -> list[ModelSpec]:
    """The volatility model, the risk model and the combined oracle model, trained centrally on
    the first 80% of `series` and evaluated on the last 20% of its feature rows."""
    from models.data import load_bundled
    from models.features import build_features
    from models.oracle_model import OracleModel
    from models.risk import fit_risk
    from models.volatility import fit_volatility

    features = build_features(load_bundled(series))
    cut = int(len(features.X) * 0.8)
    train = features.slice(0, cut)
    X = torch.tensor(features.X, dtype=torch.float32)
    vol = fit_volatility(train, seed=seed)
    # Without a calibration split the risk model normalises on the same rows as the volatility
    # model, so the two share their input clips in the circuit, as the published federated
    # models (one set of pooled statistics) do.
    risk = fit_risk(train, seed=seed, calibration_fraction=0.0)
    rows = X[cut:]
    return [
        ModelSpec("volatility", vol.eval(), rows, (True,)),
        ModelSpec("risk", risk.eval(), rows, (False,)),
        ModelSpec("oracle", OracleModel(vol, risk).eval(), rows, (True, False)),
    ]
