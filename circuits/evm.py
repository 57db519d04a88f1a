"""The EVM side of a circuit: EZKL's reusable Halo2 verifier and its verifying-key artifact.

With hashed parameters the single-contract verifier exceeds EIP-170 even for tiny models, so
Proofcast uses the reusable verifier (one contract for any circuit) plus a verifying-key artifact
(VKA) that is registered on it. Anyone can register a VKA there, so consumers must pin its digest.
"""

from __future__ import annotations

import asyncio
import logging
import struct

import ezkl
from eth_utils import keccak

from circuits.artifacts import CircuitArtifacts
from circuits.errors import EzklStepError

log = logging.getLogger(__name__)

VERIFIER_CONTRACT = "Halo2VerifierReusable"


async def _render(artifacts: CircuitArtifacts) -> None:
    art = artifacts
    abi_path = art.root / "verifier_abi.json"
    try:
        await ezkl.create_evm_verifier(
            str(art.vk), str(art.settings), str(art.verifier_sol), str(abi_path), str(art.srs), True
        )
    except Exception as exc:
        # ezkl writes the .sol first and then tries to download solc for the ABI, which cannot
        # work offline; Proofcast compiles the written file itself with solc-js.
        if not art.verifier_sol.is_file():
            raise EzklStepError(
                f"ezkl create_evm_verifier wrote no {art.verifier_sol}: {exc}"
            ) from exc
        log.debug("create_evm_verifier ABI step skipped (%s); compiling with solc-js instead", exc)
    try:
        await ezkl.create_evm_vka(str(art.vk), str(art.settings), str(art.vka), str(art.srs))
    except Exception as exc:
        raise EzklStepError(f"ezkl create_evm_vka failed for {art.vka}: {exc}") from exc


def write_evm_artifacts(artifacts: CircuitArtifacts) -> None:
    """Write the reusable verifier's Solidity source and the circuit's VKA file."""
    artifacts.verifier_sol.unlink(missing_ok=True)
    asyncio.run(_render(artifacts))
    if not artifacts.vka.is_file():
        raise EzklStepError(f"ezkl create_evm_vka wrote no {artifacts.vka}")


def read_vka_words(artifacts: CircuitArtifacts) -> list[bytes]:
    """The VKA as the bytes32[] the verifier takes (the file is a length-prefixed word list)."""
    raw = artifacts.vka.read_bytes()
    if len(raw) < 8:
        raise EzklStepError(f"{artifacts.vka}: too short to be a VKA file")
    (count,) = struct.unpack_from("<Q", raw)
    body = raw[8:]
    if len(body) != 32 * count:
        raise EzklStepError(
            f"{artifacts.vka}: header says {count} words but body has {len(body)} bytes"
        )
    return [body[i : i + 32] for i in range(0, len(body), 32)]


def vka_digest(words: list[bytes]) -> bytes:
    """keccak256 of the concatenated VKA words: the digest the verifier registers and checks."""
    return keccak(b"".join(words))
