"""Gas report of the on-chain oracle with real EZKL proofs: writes results/contracts.{md,json}.

For each batch size K the placeholder circuit is built, two batches are proved, and on a fresh
anvil: the circuit's verifier and the oracle stack are deployed, the model registered, the first
and a following report submitted, and `latestRoundData` read. The direct `verifyProof` call is
measured next to the verifier call inside `submit` (from a call trace).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from circuits.artifacts import CircuitArtifacts
from circuits.pipeline import build_circuit, prove
from models.placeholder import make_placeholder_model, sample_features
from oracle.chain.anvil import ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.contracts import (
    FeedSpec,
    MarginParams,
    ModelSpec,
    block_timestamp,
    deploy_oracle,
    register_model,
    send,
    submit_report,
)
from oracle.chain.verifier import deploy_verifier, verification_gas, verify_calldata_bytes
from oracle.errors import ChainError

# Targets set by the circuits work for on-chain verification.
TARGET_VERIFY_GAS = 400_000
TARGET_PER_FEED_GAS_K16 = 25_000
INTRINSIC_GAS = 21_000
WIDE = 10**15


@dataclass(frozen=True)
class ContractsGasRow:
    """Gas measured for one batch size K (all numbers are transaction gasUsed unless noted)."""

    feeds: int
    proof_bytes: int
    verifier_deploy: int
    verifier_runtime_bytes: int
    oracle_deploy: int
    oracle_runtime_bytes: int
    adapter_deploy: int
    adapter_runtime_bytes: int
    margin_engine_deploy: int
    margin_engine_runtime_bytes: int
    configure_feed: int
    register_model: int
    submit_first: int
    submit_next: int
    submit_calldata_bytes: int
    verify_direct: int
    verify_direct_calldata_bytes: int
    latest_round_data_estimate: int
    margin_update: int
    verifier_call_in_submit: int

    @property
    def submit_next_per_feed(self) -> int:
        return self.submit_next // self.feeds


def calldata_gas(data: bytes) -> int:
    """Intrinsic calldata gas of `data` (EIP-2028: 16 per nonzero byte, 4 per zero byte)."""
    return sum(16 if b else 4 for b in data)


def verifier_call_gas(w3: Web3, tx_hash: bytes, verifier: str) -> int:
    """Gas used by the call from the oracle into `verifier` within transaction `tx_hash`
    (anvil's debug_traceTransaction call tracer)."""
    trace = w3.provider.make_request(
        "debug_traceTransaction", ["0x" + bytes(tx_hash).hex(), {"tracer": "callTracer"}]
    )
    calls = trace.get("result", {}).get("calls", [])
    used = [int(c["gasUsed"], 16) for c in calls if c.get("to", "").lower() == verifier.lower()]
    if len(used) != 1:
        raise ChainError(f"expected one call into {verifier} in tx 0x{bytes(tx_hash).hex()}")
    return used[0]


def measure(feeds: int, workdir: Path, progress: Callable[[str], None] = print) -> ContractsGasRow:
    """Build, prove and measure the oracle for batches of `feeds` feeds."""
    model = make_placeholder_model(0)
    artifacts = CircuitArtifacts(workdir / f"k{feeds}")
    progress(f"K={feeds}: building circuit")
    build = build_circuit(model, sample_features(feeds), sample_features(64, seed=1), artifacts)
    progress(f"K={feeds}: proving two batches")
    proofs = [prove(artifacts, sample_features(feeds, seed=s).numpy(), f"gas{s}") for s in (2, 3)]
    names = [f"FEED-{k}" for k in range(feeds)]
    specs = [FeedSpec(n, -WIDE, WIDE, 2 * WIDE, output_index=1) for n in names]
    with AnvilNode(log_path=workdir / f"anvil-k{feeds}.log") as node:
        w3 = connect(node.rpc_url, ANVIL_DEV_KEY)
        verifier = deploy_verifier(w3, artifacts)
        stack = deploy_oracle(w3, verifier.address, build.layout, specs, MarginParams())
        registered = register_model(stack, ModelSpec(build.model_hash, round=1))
        now = block_timestamp(w3)
        first, second = proofs
        submit_first = submit_report(stack, first.proof_bytes, first.instances, names, now - 20)
        submit_next = submit_report(stack, second.proof_bytes, second.instances, names, now - 10)
        submit_data = stack.oracle.functions.submit(
            second.proof_bytes, second.instances, [s.id for s in specs], now
        )._encode_transaction_data()
        adapter = stack.adapters[names[0]]
        read = w3.eth.estimate_gas(
            {"to": adapter.address, "data": adapter.encode_abi("latestRoundData", args=[])}
        )
        assert stack.margin_engine is not None
        margin = send(w3, stack.margin_engine.functions.updateInitialMargin(), "margin update")
        in_submit = verifier_call_gas(w3, submit_next["transactionHash"], verifier.contract.address)
        direct = verification_gas(verifier, second.proof_bytes, second.instances)
        direct_bytes = verify_calldata_bytes(verifier, second.proof_bytes, second.instances)
    return ContractsGasRow(
        feeds=feeds,
        proof_bytes=len(first.proof_bytes),
        verifier_deploy=verifier.deploy_gas,
        verifier_runtime_bytes=verifier.runtime_size,
        oracle_deploy=stack.gas["deploy RiskOracle"],
        oracle_runtime_bytes=stack.sizes["RiskOracle"],
        adapter_deploy=stack.gas["deploy RiskFeedAdapter"],
        adapter_runtime_bytes=stack.sizes["RiskFeedAdapter"],
        margin_engine_deploy=stack.gas["deploy MarginEngine"],
        margin_engine_runtime_bytes=stack.sizes["MarginEngine"],
        configure_feed=stack.gas["configureFeed"],
        register_model=int(registered["gasUsed"]),
        submit_first=int(submit_first["gasUsed"]),
        submit_next=int(submit_next["gasUsed"]),
        submit_calldata_bytes=len(bytes.fromhex(submit_data.removeprefix("0x"))),
        verify_direct=direct,
        verify_direct_calldata_bytes=direct_bytes,
        latest_round_data_estimate=int(read),
        margin_update=int(margin["gasUsed"]),
        verifier_call_in_submit=in_submit,
    )


def render_markdown(rows: list[ContractsGasRow]) -> str:
    """The gas report as a Markdown table, one column per K."""
    header = "| measure | " + " | ".join(f"K = {r.feeds}" for r in rows) + " |"
    lines = [
        "# On-chain oracle gas (real EZKL proofs, anvil, solc-js 0.8.37, optimizer 200 runs)",
        "",
        header,
        "|---|" + "---:|" * len(rows),
    ]

    def row(label: str, values: list[int | str]) -> None:
        lines.append(
            f"| {label} | "
            + " | ".join(f"{v:,}" if isinstance(v, int) else v for v in values)
            + " |"
        )

    row("proof size (bytes)", [r.proof_bytes for r in rows])
    row("deploy Halo2Verifier", [r.verifier_deploy for r in rows])
    row("deploy RiskOracle", [r.oracle_deploy for r in rows])
    row("deploy RiskFeedAdapter (per feed)", [r.adapter_deploy for r in rows])
    row("deploy MarginEngine", [r.margin_engine_deploy for r in rows])
    row("configureFeed (per feed)", [r.configure_feed for r in rows])
    row("registerModel", [r.register_model for r in rows])
    row("submit, first report (fresh feed slots)", [r.submit_first for r in rows])
    row("submit, next report", [r.submit_next for r in rows])
    row("submit, next report, per feed", [r.submit_next_per_feed for r in rows])
    row("submit calldata (bytes)", [r.submit_calldata_bytes for r in rows])
    row(
        "verifier call inside submit",
        [r.verifier_call_in_submit for r in rows],
    )
    row(
        "verifier call inside submit, per feed",
        [r.verifier_call_in_submit // r.feeds for r in rows],
    )
    row(
        "oracle's own share of submit (submit - verifier call)",
        [r.submit_next - r.verifier_call_in_submit for r in rows],
    )
    row("verifyProof direct (transaction)", [r.verify_direct for r in rows])
    row("verifyProof direct calldata (bytes)", [r.verify_direct_calldata_bytes for r in rows])
    row(
        "latestRoundData (eth_estimateGas, incl. 21,000)",
        [r.latest_round_data_estimate for r in rows],
    )
    row(
        "latestRoundData execution (estimate - 21,000)",
        [r.latest_round_data_estimate - INTRINSIC_GAS for r in rows],
    )
    row("MarginEngine.updateInitialMargin", [r.margin_update for r in rows])
    lines.append("")
    lines.append(
        "Runtime sizes (EIP-170 limit 24,576 bytes): "
        + ", ".join(
            f"{name} {size:,}"
            for name, size in (
                ("Halo2Verifier", rows[0].verifier_runtime_bytes),
                ("RiskOracle", rows[0].oracle_runtime_bytes),
                ("RiskFeedAdapter", rows[0].adapter_runtime_bytes),
                ("MarginEngine", rows[0].margin_engine_runtime_bytes),
            )
        )
        + "."
    )
    lines.append("")
    lines.append(
        f"Targets from the circuits work: on-chain verification < {TARGET_VERIFY_GAS:,} gas per "
        f"update, < {TARGET_PER_FEED_GAS_K16:,} per feed at K = 16."
    )
    for r in rows:
        verify = r.verifier_call_in_submit
        per_feed = verify // r.feeds
        lines.append(
            f"- K = {r.feeds}: verification {verify:,} gas "
            f"({'met' if verify < TARGET_VERIFY_GAS else 'NOT met'}), {per_feed:,} per feed"
            + (
                f" ({'met' if per_feed < TARGET_PER_FEED_GAS_K16 else 'NOT met'})"
                if r.feeds == 16
                else ""
            )
            + f"; whole submit {r.submit_next:,} gas, {r.submit_next_per_feed:,} per feed."
        )
    return "\n".join(lines) + "\n"


def run_contracts_benchmark(
    out: Path,
    workdir: Path,
    feeds: tuple[int, ...] = (1, 16),
    progress: Callable[[str], None] = print,
) -> list[ContractsGasRow]:
    """Measure every K in `feeds`; write `out/contracts.md` and `out/contracts.json`."""
    out.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [measure(k, workdir, progress) for k in feeds]
    (out / "contracts.md").write_text(render_markdown(rows))
    (out / "contracts.json").write_text(
        json.dumps(
            [asdict(r) | {"submit_next_per_feed": r.submit_next_per_feed} for r in rows], indent=2
        )
    )
    return rows
