"""The EVM side of a circuit: EZKL's Halo2 verifier with this circuit's verifying key compiled in.

Parameters are hashed, so the verifying key does not depend on the weights: one verifier serves
every federated round of an architecture (each round is a new model hash, registered on chain).
With Freivalds' einsum check disabled (`CircuitConfig.disable_freivalds`) the circuit has few
enough columns for this single-contract verifier to fit EIP-170, and it costs far less gas than
EZKL's reusable verifier + verifying-key artifact (see README, "Circuits").
"""

from __future__ import annotations

import asyncio
import logging

import ezkl

from circuits.artifacts import CircuitArtifacts
from circuits.errors import EzklStepError

log = logging.getLogger(__name__)

VERIFIER_CONTRACT = "Halo2Verifier"


async def _render(artifacts: CircuitArtifacts) -> None:
    art = artifacts
    abi_path = art.root / "verifier_abi.json"
    try:
        await ezkl.create_evm_verifier(
            str(art.vk),
            str(art.settings),
            str(art.verifier_sol),
            str(abi_path),
            str(art.srs),
            False,
        )
    except Exception as exc:
        # ezkl writes the .sol first and then tries to download solc for the ABI, which cannot
        # work offline; Proofcast compiles the written file itself with solc-js.
        if not art.verifier_sol.is_file():
            raise EzklStepError(
                f"ezkl create_evm_verifier wrote no {art.verifier_sol}: {exc}"
            ) from exc
        log.debug("create_evm_verifier ABI step skipped (%s); compiling with solc-js instead", exc)


def write_evm_verifier(artifacts: CircuitArtifacts) -> None:
    """Write the circuit's Solidity verifier (`Halo2Verifier`, verifying key inlined)."""
    artifacts.verifier_sol.unlink(missing_ok=True)
    asyncio.run(_render(artifacts))
    if not artifacts.verifier_sol.is_file():
        raise EzklStepError(f"ezkl create_evm_verifier wrote no {artifacts.verifier_sol}")
