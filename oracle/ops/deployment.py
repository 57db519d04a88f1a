"""The deployment file `proofcast deploy` writes and the other commands read (`--deployment`):
which chain, from which block, and where the verifier, oracle, adapters and margin engine are."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from oracle.errors import OracleError

FORMAT = "proofcast-deployment/1"


class DeploymentFileError(OracleError):
    """A deployment file is missing, malformed or names something that is not an address."""


@dataclass(frozen=True)
class DeploymentFile:
    """What one `proofcast deploy` put on chain."""

    chain_id: int
    block: int  # the block of the oracle's deployment (explorer: --from-block)
    oracle: str
    verifier: str
    adapters: dict[str, str]  # "feed/output" -> RiskFeedAdapter address
    feeds: list[str]
    margin_engine: str | None = None
    governance_delay: int = 0
    admin: str = ""
    circuit: str = ""  # the circuit directory the verifier was compiled from
    outputs: list[str] = field(default_factory=list)  # the circuit's output names, in order
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, path: Path) -> Path:
        """Write atomically (a temporary file renamed over `path`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, **asdict(self)}, indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: Path) -> DeploymentFile:
        """Read and check `path`; errors name the file and the bad field."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise DeploymentFileError(f"deployment file {path} does not exist") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise DeploymentFileError(f"deployment file {path} is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            raise DeploymentFileError(f"deployment file {path}: not a {FORMAT} file")
        try:
            loaded = cls(**data)
        except TypeError as exc:
            raise DeploymentFileError(f"deployment file {path}: {exc}") from None
        addresses = {"oracle": loaded.oracle, "verifier": loaded.verifier}
        addresses |= {f"adapters.{k}": v for k, v in loaded.adapters.items()}
        if loaded.margin_engine:
            addresses["margin_engine"] = loaded.margin_engine
        for what, value in addresses.items():
            if not isinstance(value, str) or not Web3.is_address(value):
                raise DeploymentFileError(f"deployment file {path}: {what} {value!r} is no address")
        if not isinstance(loaded.chain_id, int) or not isinstance(loaded.block, int):
            raise DeploymentFileError(
                f"deployment file {path}: chain_id and block must be integers"
            )
        return loaded


def oracle_address(
    oracle: str | None, deployment: Path | None
) -> tuple[str, DeploymentFile | None]:
    """The oracle address of `--oracle` or `--deployment` (exactly one must be given)."""
    if (oracle is None) == (deployment is None):
        raise DeploymentFileError("give the oracle as --oracle ADDRESS or --deployment FILE (one)")
    if deployment is not None:
        loaded = DeploymentFile.read(deployment)
        return loaded.oracle, loaded
    assert oracle is not None
    if not Web3.is_address(oracle):
        raise DeploymentFileError(f"--oracle {oracle!r} is not an address")
    return Web3.to_checksum_address(oracle), None
