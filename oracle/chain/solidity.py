"""Compile Solidity with solc-js (through the same wrapper forge uses)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.chain.toolchain import solc_wrapper
from oracle.errors import CompileError

EVM_VERSION = "cancun"
# Tuned for execution, not deployment: the oracle's submit and the generated verifier run every
# report (100,000 runs: verifier call -16k gas per report vs 200 runs; runtime sizes stay under
# EIP-170; higher values change nothing).
OPTIMIZER_RUNS = 100_000
# For code that must shrink to fit EIP-170 (a verifier with many columns).
SIZE_OPTIMIZER_RUNS = 200


@dataclass(frozen=True)
class CompiledContract:
    """ABI and bytecode of one contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes

    @property
    def runtime_size(self) -> int:
        """Size of the runtime code in bytes (what EIP-170 limits)."""
        return len(self.deployed_bytecode)


def compile_sources(
    sources: dict[str, str],
    remappings: list[str] | None = None,
    base_path: Path | None = None,
    runs: int = OPTIMIZER_RUNS,
) -> dict[str, CompiledContract]:
    """Compile `sources` (unit name -> Solidity text); returns every contract by name.

    Imports not among `sources` (e.g. remapped libraries) are read from files under `base_path`.
    """
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "optimizer": {"enabled": True, "runs": runs},
            "evmVersion": EVM_VERSION,
            "remappings": remappings or [],
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }
    args = [str(solc_wrapper()), "--standard-json"]
    if base_path is not None:
        args += ["--base-path", str(base_path)]
    proc = subprocess.run(
        args,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CompileError(f"solc-js exited {proc.returncode}: {proc.stderr.strip()[:2000]}")
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError(
            "; ".join(e.get("formattedMessage", e.get("message", "")) for e in errors)
        )
    contracts: dict[str, CompiledContract] = {}
    for by_name in output.get("contracts", {}).values():
        for name, item in by_name.items():
            contracts[name] = CompiledContract(
                name=name,
                abi=item["abi"],
                bytecode=bytes.fromhex(item["evm"]["bytecode"]["object"]),
                deployed_bytecode=bytes.fromhex(item["evm"]["deployedBytecode"]["object"]),
            )
    return contracts


def compile_directory(
    root: Path, remappings: list[str] | None = None, base_path: Path | None = None
) -> dict[str, CompiledContract]:
    """Compile every `.sol` file under `root`, keyed by its path relative to `root`.

    Relative imports (`./interfaces/X.sol`) resolve because each unit is named by its path.
    """
    if not root.is_dir():
        raise CompileError(f"Solidity source directory not found: {root}")
    sources = {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.sol"))}
    if not sources:
        raise CompileError(f"no .sol files under {root}")
    return compile_sources(sources, remappings, base_path)


def compile_file(path: Path, contract: str, runs: int = OPTIMIZER_RUNS) -> CompiledContract:
    """Compile one Solidity file and return `contract` from it."""
    if not path.is_file():
        raise CompileError(f"Solidity source not found: {path}")
    contracts = compile_sources({path.name: path.read_text()}, runs=runs)
    if contract not in contracts:
        raise CompileError(f"{path} defines no contract {contract!r} (found: {sorted(contracts)})")
    return contracts[contract]
