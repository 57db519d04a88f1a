"""EZKL's reusable Halo2 verifier on chain: deploy, register the circuit's VKA, verify proofs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from circuits.artifacts import CircuitArtifacts
from circuits.evm import VERIFIER_CONTRACT, read_vka_words, vka_digest
from oracle.chain.client import deploy, transact
from oracle.chain.solidity import compile_file
from oracle.errors import ChainError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnChainVerifier:
    """A deployed reusable verifier with this circuit's VKA registered on it."""

    w3: Web3
    contract: Contract
    vka: list[bytes]
    vka_digest: bytes
    runtime_size: int
    deploy_gas: int
    register_gas: int


def deploy_verifier(w3: Web3, artifacts: CircuitArtifacts) -> OnChainVerifier:
    """Compile the EZKL-written verifier with solc-js, deploy it and register the VKA."""
    compiled = compile_file(artifacts.verifier_sol, VERIFIER_CONTRACT)
    deployment = deploy(w3, compiled)
    words = read_vka_words(artifacts)
    digest = vka_digest(words)
    receipt = transact(w3, deployment.contract.functions.registerVka(words), "registerVka")
    return OnChainVerifier(
        w3=w3,
        contract=deployment.contract,
        vka=words,
        vka_digest=digest,
        runtime_size=deployment.runtime_size,
        deploy_gas=deployment.gas_used,
        register_gas=receipt["gasUsed"],
    )


def decode_verifier_return(data: bytes) -> tuple[bool, bytes, list[int]]:
    """Decode what the reusable verifier returns.

    It writes its return data in assembly as (success, vka_digest, byte length of the rescaled
    values, rescaled values...) without the ABI offset word that its declared
    `(bool, bytes32, int256[])` return needs, so ABI decoders (web3, Solidity's high-level calls)
    reject it; read the words directly instead.
    """
    if len(data) < 96 or len(data) % 32:
        raise ChainError(
            f"verifier returned {len(data)} bytes, not a (success, digest, values) record"
        )
    words = [data[i : i + 32] for i in range(0, len(data), 32)]
    length = int.from_bytes(words[2], "big")
    if length != 32 * (len(words) - 3):
        raise ChainError(
            f"verifier return says {length} bytes of values but carries {len(words) - 3} words"
        )
    values = [int.from_bytes(w, "big", signed=True) for w in words[3:]]
    return int.from_bytes(words[0], "big") == 1, words[1], values


def verify_on_chain(verifier: OnChainVerifier, proof: bytes, instances: list[int]) -> bool:
    """True when the verifier accepts (proof, instances); a reverting verification is False."""
    data = verifier.contract.encode_abi("verifyProof", args=[proof, instances, verifier.vka])
    try:
        raw = bytes(verifier.w3.eth.call({"to": verifier.contract.address, "data": data}))
    except ContractLogicError as exc:  # the verifier reverts on an invalid proof
        log.info("on-chain verifier rejected the proof: %s", exc)
        return False
    success, digest, _rescaled = decode_verifier_return(raw)
    if digest != verifier.vka_digest:
        raise ChainError(
            f"verifier at {verifier.contract.address} checked VKA digest {digest.hex()}, "
            f"expected {verifier.vka_digest.hex()}"
        )
    return success


def verification_gas(verifier: OnChainVerifier, proof: bytes, instances: list[int]) -> int:
    """Gas used by a real verification transaction (the proof must be valid)."""
    call = verifier.contract.functions.verifyProof(proof, instances, verifier.vka)
    return int(transact(verifier.w3, call, "verifyProof")["gasUsed"])


def verify_calldata_bytes(verifier: OnChainVerifier, proof: bytes, instances: list[int]) -> int:
    """Size of the ABI-encoded `verifyProof` call: what a transmitter pays calldata gas for."""
    data = verifier.contract.encode_abi("verifyProof", args=[proof, instances, verifier.vka])
    return len(bytes.fromhex(data.removeprefix("0x")))
