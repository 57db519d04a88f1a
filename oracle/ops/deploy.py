"""`proofcast deploy`: a circuit's verifier, RiskOracle, one adapter per feed output and,
optionally, the example MarginEngine, recorded in a deployment file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from web3 import Web3

from circuits.artifacts import CircuitArtifacts
from circuits.manifest import check_manifest
from oracle.chain.contracts import FeedSpec, OracleStack, deploy_oracle
from oracle.chain.verifier import deploy_verifier
from oracle.ops.deployment import DeploymentFile
from oracle.ops.feeds import feed_spec, margin_params


def deploy_stack(
    w3: Web3,
    circuit_dir: Path,
    feeds: Sequence[str] | Sequence[FeedSpec],
    margin_engine: bool = False,
    governance_delay: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[OracleStack, DeploymentFile]:
    """Deploy the circuit at `circuit_dir` (its manifest is checked against its files) with
    `feeds` (names get `oracle.ops.feeds` defaults for the circuit's outputs) in slot order."""
    artifacts = CircuitArtifacts(Path(circuit_dir))
    layout = check_manifest(artifacts).instance_layout()
    specs = [f if isinstance(f, FeedSpec) else feed_spec(f, layout.output_names) for f in feeds]
    if len(specs) != layout.num_feeds:
        names = ", ".join(s.name for s in specs)
        raise ValueError(
            f"--feeds {names}: {len(specs)} feeds, but the circuit at {circuit_dir} proves "
            f"{layout.num_feeds} per report (one slot each)"
        )
    if len({s.name for s in specs}) != len(specs):
        raise ValueError(f"--feeds: a feed is named twice in {[s.name for s in specs]}")
    first_block = int(w3.eth.block_number) + 1  # every contract and event is at or after it
    progress(f"deploying the verifier of {circuit_dir}")
    verifier = deploy_verifier(w3, artifacts)
    progress(f"verifier at {verifier.address}; deploying RiskOracle and adapters")
    stack = deploy_oracle(
        w3,
        verifier.address,
        layout,
        specs,
        margin=margin_params(specs[0]) if margin_engine else None,
        governance_delay=governance_delay,
    )
    record = DeploymentFile(
        chain_id=int(w3.eth.chain_id),
        block=first_block,
        oracle=stack.oracle.address,
        verifier=verifier.address,
        adapters={key: c.address for key, c in stack.adapters.items()},
        feeds=[s.name for s in specs],
        margin_engine=stack.margin_engine.address if stack.margin_engine is not None else None,
        governance_delay=governance_delay,
        admin=str(w3.eth.default_account),
        circuit=str(Path(circuit_dir).resolve()),
        outputs=list(layout.output_names),
    )
    return stack, record
