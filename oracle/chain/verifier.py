"""A circuit's EZKL Halo2 verifier on chain: compile, deploy, verify proofs, measure gas."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from circuits.artifacts import CircuitArtifacts
from circuits.evm import VERIFIER_CONTRACT
from oracle.chain.client import EIP170_LIMIT, deploy, transact
from oracle.chain.solidity import SIZE_OPTIMIZER_RUNS, compile_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnChainVerifier:
    """A deployed verifier of one circuit (its verifying key compiled in)."""

    w3: Web3
    contract: Contract
    runtime_size: int
    deploy_gas: int

    @property
    def address(self) -> str:
        return self.contract.address


def deploy_verifier(w3: Web3, artifacts: CircuitArtifacts) -> OnChainVerifier:
    """Compile the EZKL-written verifier with solc-js and deploy it (EIP-170 is checked).

    Compiled for execution cost (OPTIMIZER_RUNS) unless that exceeds EIP-170; then for size.
    """
    compiled = compile_file(artifacts.verifier_sol, VERIFIER_CONTRACT)
    if compiled.runtime_size > EIP170_LIMIT:
        log.info(
            "%s: %d bytes at the default optimizer runs; compiling for size",
            artifacts.verifier_sol,
            compiled.runtime_size,
        )
        compiled = compile_file(artifacts.verifier_sol, VERIFIER_CONTRACT, SIZE_OPTIMIZER_RUNS)
    deployment = deploy(w3, compiled)
    return OnChainVerifier(
        w3=w3,
        contract=deployment.contract,
        runtime_size=deployment.runtime_size,
        deploy_gas=deployment.gas_used,
    )


def verify_on_chain(verifier: OnChainVerifier, proof: bytes, instances: list[int]) -> bool:
    """True when the verifier accepts (proof, instances); it reverts on an invalid proof."""
    try:
        return bool(verifier.contract.functions.verifyProof(proof, instances).call())
    except ContractLogicError as exc:
        log.info("on-chain verifier rejected the proof: %s", exc)
        return False


def verification_gas(verifier: OnChainVerifier, proof: bytes, instances: list[int]) -> int:
    """Gas used by a real verification transaction (the proof must be valid)."""
    call = verifier.contract.functions.verifyProof(proof, instances)
    return int(transact(verifier.w3, call, "verifyProof")["gasUsed"])


def verify_calldata_bytes(verifier: OnChainVerifier, proof: bytes, instances: list[int]) -> int:
    """Size of the ABI-encoded `verifyProof` call: what a transmitter pays calldata gas for."""
    data = verifier.contract.encode_abi("verifyProof", args=[proof, instances])
    return len(bytes.fromhex(data.removeprefix("0x")))
