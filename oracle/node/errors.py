"""Errors of the oracle node, each naming the key, file, feed, round or address involved."""

from oracle.errors import OracleError


class NodeError(OracleError):
    """Base class for oracle-node failures."""


class ConfigError(NodeError):
    """The node configuration is invalid; the message names the offending key or file."""


class JournalError(NodeError):
    """An illegal round-state transition or an unreadable journal."""


class KeyLoadError(NodeError):
    """The signing key could not be loaded (never contains the key itself)."""


class SourceError(NodeError):
    """Market data for a feed is missing or invalid; names the feed and file."""


class SubmissionReverted(NodeError):
    """The oracle contract rejected a submission; `error` is the decoded custom error."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


class RpcUnavailable(NodeError):
    """The RPC endpoint did not answer after all retries."""
