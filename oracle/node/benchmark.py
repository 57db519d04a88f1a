"""`proofcast bench node`: what one node round costs on a local chain, measured end to end.

Real pieces only: bundled market data written as growing CSV files, the shared features, a
small MLP over them compiled with EZKL (K feeds per proof), anvil, the circuit's verifier,
RiskOracle and three attesters (threshold 2, real HTTP on loopback). Each round appends one bar
per feed and runs one node tick; the table reports proof time, tick wall time (attestation
included), gas per report and per feed, and calldata size.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from circuits.artifacts import CircuitArtifacts
from circuits.pipeline import CircuitBuild, build_circuit
from models.data import load_bundled
from models.features import NUM_FEATURES, build_features
from models.identity import model_hash
from models.placeholder import make_placeholder_model
from oracle.attest.checks import CheckPolicy
from oracle.attest.local import LocalAttesters, attester_keys
from oracle.chain.anvil import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.contracts import FeedSpec, ModelSpec, OutputSpec, deploy_oracle, register_model
from oracle.chain.verifier import deploy_verifier
from oracle.node import journal as J
from oracle.node.config import FeedConfig, NodeConfig
from oracle.node.journal import Journal
from oracle.node.keys import SigningKey
from oracle.node.runner import Node
from oracle.node.sources import CsvDirectorySource

BENCH_SERIES = ("sp500", "aapl", "msft", "ibm", "goog")
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class RoundRow:
    """One measured round."""

    round: int
    state: str
    tick_seconds: float
    prove_seconds: float
    gas_used: int
    gas_per_feed: float
    calldata_bytes: int


def bench_model(seed: int = 0) -> torch.nn.Module:
    """A small seeded MLP over the shared features, two outputs per feed."""
    return make_placeholder_model(seed, num_features=NUM_FEATURES, hidden=8)


def bar_line(series, i: int) -> str:
    """Bar `i` of `series` as a `date,open,high,low,close,volume` CSV line."""
    volume = 0 if series.volume is None else series.volume[i]
    s = series
    return f"{s.dates[i]},{s.open[i]},{s.high[i]},{s.low[i]},{s.close[i]},{volume}\n"


def _write_bars(path: Path, series, stop: int) -> None:
    lines = "".join(bar_line(series, i) for i in range(max(0, stop - 60), stop))
    path.write_text("date,open,high,low,close,volume\n" + lines)


def build_bench_circuit(
    workdir: Path, names: list[str] | tuple[str, ...], progress: Callable[[str], None]
) -> tuple[torch.nn.Module, CircuitBuild]:
    """`bench_model()` compiled for K = len(names) feeds, calibrated on the bundled series."""
    calibration = np.concatenate([build_features(load_bundled(n)).X[-500:] for n in names])
    calib = torch.tensor(calibration, dtype=torch.float32)
    model = bench_model()
    progress(f"building the K={len(names)} circuit")
    build = build_circuit(model, calib[: len(names)], calib, CircuitArtifacts(workdir / "circuit"))
    return model, build


def run_node_benchmark(
    out: Path,
    workdir: Path,
    feeds: int = 2,
    rounds: int = 3,
    progress: Callable[[str], None] = print,
) -> list[RoundRow]:
    """Measure `rounds` node rounds publishing `feeds` feeds; writes out/node.{json,md}."""
    names = BENCH_SERIES[:feeds]
    series = [load_bundled(n) for n in names]
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    model, build = build_bench_circuit(workdir, names, progress)
    artifacts = build.artifacts
    journal_path = workdir / "journal.sqlite"
    journal_path.unlink(missing_ok=True)
    rows: list[RoundRow] = []
    with AnvilNode(log_path=workdir / "anvil.log") as anvil:
        w3 = connect(anvil.rpc_url, ANVIL_DEV_KEY, expected_chain_id=ANVIL_CHAIN_ID)
        verifier = deploy_verifier(w3, artifacts)
        wide = 10**15
        outputs = tuple(OutputSpec(o, -wide, wide, wide) for o in build.layout.output_names)
        # bundled history is years old: no age limit here
        specs = [FeedSpec(n, outputs, max_age=UINT32_MAX) for n in names]
        keys = attester_keys(3)
        stack = deploy_oracle(
            w3,
            verifier.address,
            build.layout,
            specs,
            attesters=[k.address for k in keys],
            threshold=2,
        )
        register_model(stack, ModelSpec(model_hash(model)))
        policy = CheckPolicy(ANVIL_CHAIN_ID, stack.oracle.address, feeds, build.input_scale)
        attesters = LocalAttesters([data] * 3, policy, names, calendar="business", keys=keys)
        config = NodeConfig(
            rpc_url=anvil.rpc_url,
            chain_id=ANVIL_CHAIN_ID,
            oracle_address=stack.oracle.address,
            circuit_dir=artifacts.root,
            source_dir=data,
            journal=journal_path,
            feeds=tuple(FeedConfig(n, f"{n}.csv") for n in names),
            attesters=tuple(attesters.urls),
        )
        with attesters, Journal(journal_path) as journal:
            node = Node(config, SigningKey(ANVIL_DEV_KEY), CsvDirectorySource(data), journal)
            for r in range(rounds):
                for s, n in zip(series, names, strict=True):
                    _write_bars(data / f"{n}.csv", s, len(s) - rounds + r + 1)
                start = time.perf_counter()
                result = node.tick(force=True)
                tick = time.perf_counter() - start
                rnd = result.round
                if rnd is None:
                    raise RuntimeError(f"bench round {r}: nothing published ({result.skipped})")
                calldata = len(node._calldata(rnd))
                rows.append(
                    RoundRow(
                        round=rnd.id,
                        state=rnd.state,
                        tick_seconds=tick,
                        prove_seconds=float(rnd.prove_seconds or 0.0),
                        gas_used=int(rnd.gas_used or 0),
                        gas_per_feed=(rnd.gas_used or 0) / feeds,
                        calldata_bytes=calldata,
                    )
                )
                progress(
                    f"round {rnd.id}: {rnd.state}, prove {rows[-1].prove_seconds:.1f}s, "
                    f"tick {tick:.1f}s, {rows[-1].gas_used:,} gas"
                )
                if rnd.state != J.CONFIRMED:
                    raise RuntimeError(f"bench round {rnd.id} ended {rnd.state}: {rnd.error}")
    _write_results(out, rows, feeds)
    return rows


def _write_results(out: Path, rows: list[RoundRow], feeds: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "feeds_per_report": feeds,
        "rounds": len(rows),
        "prove_seconds_mean": statistics.mean(r.prove_seconds for r in rows),
        "tick_seconds_mean": statistics.mean(r.tick_seconds for r in rows),
        "gas_per_report_mean": statistics.mean(r.gas_used for r in rows),
        "gas_per_feed_mean": statistics.mean(r.gas_per_feed for r in rows),
        "calldata_bytes": rows[-1].calldata_bytes,
    }
    (out / "node.json").write_text(
        json.dumps({"summary": summary, "rounds": [asdict(r) for r in rows]}, indent=2)
    )
    lines = [
        f"# Oracle node rounds (K={feeds} feeds per proof, anvil)",
        "",
        "| round | state | tick s | prove s | gas | gas/feed | calldata B |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.round} | {r.state} | {r.tick_seconds:.1f} | {r.prove_seconds:.1f} | "
            f"{r.gas_used:,} | {r.gas_per_feed:,.0f} | {r.calldata_bytes:,} |"
        )
    lines += [
        "",
        f"mean: tick {summary['tick_seconds_mean']:.1f} s, "
        f"prove {summary['prove_seconds_mean']:.1f} s, "
        f"{summary['gas_per_report_mean']:,.0f} gas per report, "
        f"{summary['gas_per_feed_mean']:,.0f} gas per feed",
    ]
    (out / "node.md").write_text("\n".join(lines) + "\n")
