"""Locations of the project-local EVM toolchain installed by npm (never downloaded at run time)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from oracle.errors import ToolchainError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "contracts"


def _tool(env_var: str, default: Path) -> Path:
    path = Path(os.environ.get(env_var, default))
    if not path.is_file():
        raise ToolchainError(
            f"{path} not found (set {env_var} or run `make setup` to install the npm toolchain)"
        )
    if shutil.which("node") is None:
        raise ToolchainError("node is not on PATH; the EVM toolchain runs on Node.js")
    return path


def solc_wrapper() -> Path:
    """The solc-js front end shared with forge (contracts/tools/solc)."""
    return _tool("PROOFCAST_SOLC", CONTRACTS_DIR / "tools" / "solc")


def anvil_binary() -> Path:
    """The npm-installed anvil launcher."""
    return _tool("PROOFCAST_ANVIL", PROJECT_ROOT / "node_modules" / ".bin" / "anvil")
