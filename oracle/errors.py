"""Errors raised by the oracle node, each naming the address, file or chain involved."""


class OracleError(RuntimeError):
    """Base class for oracle-node failures."""


class ToolchainError(OracleError):
    """A required external tool (node, solc-js, anvil) is missing or failed."""


class CompileError(OracleError):
    """solc-js rejected a Solidity source."""


class ChainError(OracleError):
    """The RPC endpoint is unreachable, on the wrong chain, or a transaction failed."""


class ContractSizeError(ChainError):
    """A contract's runtime code exceeds the EIP-170 limit real chains enforce."""
