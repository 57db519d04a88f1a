"""Node configuration: a TOML file, then PROOFCAST_* environment variables, then CLI flags.

Every problem is a ConfigError naming the key (`node.chain_id`, `feeds[1].heartbeat_seconds`)
or file. Example (the README has the full annotated version):

    [node]
    rpc_url = "http://127.0.0.1:8545"
    chain_id = 31337
    oracle_address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    circuit_dir = "build/demo/circuit"
    journal = "build/node/journal.sqlite"

    [source]
    directory = "data/live"

    [[feeds]]
    name = "ETH-USD"
    file = "ETH-USD.csv"
    heartbeat_seconds = 3600
    deviation_bps = 50

    attesters = ["http://127.0.0.1:8701", "http://127.0.0.1:8702"]  # under [node]
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from web3 import Web3

from models.data import check_calendar
from oracle.node.errors import ConfigError

ENV_PREFIX = "PROOFCAST_"


@dataclass(frozen=True)
class FeedConfig:
    """One published feed: its market-data file and its update rule."""

    name: str
    file: str
    heartbeat_seconds: float = 3600.0
    deviation_bps: float = 50.0
    # Refuse the feed's last bar when it moved more than this many sigmas of the previous 22
    # days (models.plausibility); 0 turns the check off.
    max_move_sigmas: float = 12.0


@dataclass(frozen=True)
class NodeConfig:
    """Everything `proofcast node run` needs (paths resolved against the config file)."""

    rpc_url: str
    chain_id: int
    oracle_address: str
    circuit_dir: Path
    source_dir: Path
    journal: Path
    feeds: tuple[FeedConfig, ...]
    model: str | None = None  # weights compiled under circuit_dir/models/<model>; None = built
    keystore: Path | None = None
    poll_seconds: float = 5.0
    metrics_port: int | None = None
    confirm_timeout_seconds: float = 60.0
    max_round_age_seconds: float = 3600.0
    rpc_timeout_seconds: float = 10.0
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    gas_limit_margin: float = 1.25
    source_kind: str = "csv-dir"
    calendar: str = "business"  # which days a gap check expects: "business" or "daily"
    attesters: tuple[str, ...] = ()  # attester endpoints (http://host:port)
    attest_timeout_seconds: float = 10.0
    # signed observations a report is built from; 0: 2t - 1 (2f + 1) for the chain's threshold
    # t (attesters require the same number: attester.min_observations)
    min_observations: int = 0
    priority_fee_gwei: float = 1.0  # EIP-1559 tip of a first submission
    max_fee_gwei: float = 500.0  # cap on maxFeePerGas, bumps included
    fee_bump_blocks: int = 3  # replace a submission not mined within this many blocks
    fee_bump_percent: float = 12.5  # raise both fee fields by at least this much (nodes: 10)
    keep_rounds: int = 100  # proofs and journal bulk kept for the last N rounds (audit)
    keep_journal_rows: int = 100_000  # journal rows kept (older finished rounds deleted)
    clock: str = "system"  # "now" for schedules: "system", or "chain" (latest block time)

    @property
    def priority_fee_wei(self) -> int:
        return int(self.priority_fee_gwei * 10**9)

    @property
    def max_fee_wei(self) -> int:
        return int(self.max_fee_gwei * 10**9)

    def feed(self, name: str) -> FeedConfig:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        known = ", ".join(f.name for f in self.feeds)
        raise ConfigError(f"unknown feed {name!r}; configured feeds: {known}")


# key -> (type, required) for [node]; [source] and [[feeds]] are checked separately.
_NODE_KEYS: dict[str, tuple[type, bool]] = {
    "rpc_url": (str, True),
    "chain_id": (int, True),
    "oracle_address": (str, True),
    "circuit_dir": (str, True),
    "journal": (str, True),
    "model": (str, False),
    "keystore": (str, False),
    "poll_seconds": (float, False),
    "metrics_port": (int, False),
    "confirm_timeout_seconds": (float, False),
    "max_round_age_seconds": (float, False),
    "rpc_timeout_seconds": (float, False),
    "backoff_initial_seconds": (float, False),
    "backoff_max_seconds": (float, False),
    "gas_limit_margin": (float, False),
    "attesters": (list, False),
    "attest_timeout_seconds": (float, False),
    "min_observations": (int, False),
    "priority_fee_gwei": (float, False),
    "max_fee_gwei": (float, False),
    "fee_bump_blocks": (int, False),
    "fee_bump_percent": (float, False),
    "keep_rounds": (int, False),
    "keep_journal_rows": (int, False),
    "clock": (str, False),
}
_SOURCE_KEYS = {"kind": str, "directory": str, "calendar": str}
_FEED_KEYS: dict[str, tuple[type, bool]] = {
    "name": (str, True),
    "file": (str, True),
    "heartbeat_seconds": (float, False),
    "deviation_bps": (float, False),
    "max_move_sigmas": (float, False),
}
_SOURCE_KINDS = ("csv-dir",)
_PATH_KEYS = ("circuit_dir", "journal", "keystore")


def _typed(where: str, value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _check_table(where: str, table: Any, spec: dict[str, tuple[type, bool]]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(table) - set(spec))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(spec)})")
    out: dict[str, Any] = {}
    for key, (kind, required) in spec.items():
        if key not in table:
            if required:
                raise ConfigError(f"{where}.{key}: required")
            continue
        out[key] = _typed(f"{where}.{key}", table[key], kind)
    return out


def env_overrides(env: dict[str, str] | None = None) -> dict[str, str]:
    """[node] keys set through PROOFCAST_<KEY> variables (e.g. PROOFCAST_RPC_URL)."""
    env = dict(os.environ if env is None else env)
    return {k: env[ENV_PREFIX + k.upper()] for k in _NODE_KEYS if ENV_PREFIX + k.upper() in env}


def read_toml(path: Path, sections: tuple[str, ...], what: str = "config") -> dict[str, Any]:
    """The TOML file at `path` with only the known top-level `sections` (ConfigError naming the
    file otherwise): the node's and the attesters' configs share it."""
    if not path.is_file():
        raise ConfigError(f"{what} file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - set(sections))
    if unknown:
        known = ", ".join(sections)
        raise ConfigError(f"{path}: unknown section [{unknown[0]}] (known: {known})")
    return data


def load_config(
    path: Path, flags: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> NodeConfig:
    """Read `path`, apply environment then flag overrides (None flags ignored), validate."""
    data = read_toml(path, ("node", "source", "feeds"))
    node_table = dict(data.get("node", {}))
    node_table |= env_overrides(env)
    node_table |= {k: v for k, v in (flags or {}).items() if v is not None}
    return _build(path, node_table, data.get("source", {}), data.get("feeds"))


def _build(path: Path, node_table: Any, source_table: Any, feed_tables: Any) -> NodeConfig:
    base = path.resolve().parent
    node = _check_table("node", node_table, _NODE_KEYS)
    source = _check_table("source", source_table, {k: (t, False) for k, t in _SOURCE_KEYS.items()})
    if "directory" not in source:
        raise ConfigError("source.directory: required (the directory of market-data CSV files)")
    kind = source.get("kind", "csv-dir")
    if kind not in _SOURCE_KINDS:
        raise ConfigError(f"source.kind: unknown source {kind!r} (known: {_SOURCE_KINDS})")
    calendar = source.get("calendar", "business")
    try:
        check_calendar(calendar)
    except ValueError as exc:
        raise ConfigError(f"source.{exc}") from None
    if not isinstance(feed_tables, list) or not feed_tables:
        raise ConfigError(f"{path}: at least one [[feeds]] entry is required")
    feeds = []
    for i, table in enumerate(feed_tables):
        feed = FeedConfig(**_check_table(f"feeds[{i}]", table, _FEED_KEYS))
        if feed.heartbeat_seconds <= 0:
            raise ConfigError(f"feeds[{i}].heartbeat_seconds: must be > 0")
        if feed.deviation_bps < 0:
            raise ConfigError(f"feeds[{i}].deviation_bps: must be >= 0")
        if feed.max_move_sigmas < 0:
            raise ConfigError(f"feeds[{i}].max_move_sigmas: must be >= 0 (0 disables)")
        if feed.name in {f.name for f in feeds}:
            raise ConfigError(f"feeds[{i}].name: duplicate feed {feed.name!r}")
        feeds.append(feed)
    if not Web3.is_address(node["oracle_address"]):
        raise ConfigError(f"node.oracle_address: {node['oracle_address']!r} is not an address")
    node["oracle_address"] = Web3.to_checksum_address(node["oracle_address"])
    if node["chain_id"] <= 0:
        raise ConfigError(f"node.chain_id: must be positive, got {node['chain_id']}")
    if not str(node["rpc_url"]).startswith(("http://", "https://")):
        raise ConfigError(f"node.rpc_url: {node['rpc_url']!r} is not an http(s) URL")
    for key in _PATH_KEYS:
        if key in node:
            node[key] = (base / node[key]).resolve()
    if node.get("metrics_port") is not None and not 0 <= node["metrics_port"] < 65536:
        raise ConfigError(f"node.metrics_port: {node['metrics_port']} is not a TCP port")
    urls = node.get("attesters", [])
    for i, url in enumerate(urls):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"node.attesters[{i}]: {url!r} is not an http(s) URL")
    node["attesters"] = tuple(urls)
    if node.get("attest_timeout_seconds", 1.0) <= 0:
        raise ConfigError("node.attest_timeout_seconds: must be > 0")
    if node.get("min_observations", 0) < 0:
        raise ConfigError("node.min_observations: must be >= 0 (0: 2f+1 from the threshold)")
    if node.get("fee_bump_percent", 12.5) < 10:
        raise ConfigError("node.fee_bump_percent: must be >= 10 (nodes refuse smaller bumps)")
    if node.get("fee_bump_blocks", 3) < 1:
        raise ConfigError("node.fee_bump_blocks: must be >= 1")
    if node.get("max_fee_gwei", 500.0) <= node.get("priority_fee_gwei", 1.0):
        raise ConfigError("node.max_fee_gwei: must be above node.priority_fee_gwei")
    if node.get("keep_rounds", 100) < 1 or node.get("keep_journal_rows", 100_000) < node.get(
        "keep_rounds", 100
    ):
        raise ConfigError("node.keep_rounds: must be >= 1 and <= node.keep_journal_rows")
    if node.get("clock", "system") not in ("system", "chain"):
        raise ConfigError(f"node.clock: {node['clock']!r} is not 'system' or 'chain'")
    if node.get("poll_seconds", 1.0) <= 0:
        raise ConfigError("node.poll_seconds: must be > 0")
    return NodeConfig(
        feeds=tuple(feeds),
        source_dir=(base / source["directory"]).resolve(),
        source_kind=kind,
        calendar=calendar,
        **node,
    )


def with_overrides(config: NodeConfig, **changes: Any) -> NodeConfig:
    """A copy of `config` with some fields replaced (tests and one-shot commands)."""
    known = {f.name for f in fields(NodeConfig)}
    bad = sorted(set(changes) - known)
    if bad:
        raise ConfigError(f"node.{bad[0]}: unknown key")
    return replace(config, **changes)
