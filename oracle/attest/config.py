"""Attester configuration: a TOML file (the README has an annotated example).

[attester]
chain_id = 31337
oracle_address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
keystore = "attester.json"      # password in $PROOFCAST_KEYSTORE_PASSWORD, never in argv
circuit_dir = "circuit"         # the circuit's manifest.json (settings.json checked if present):
                                # slots (feeds per report), input_scale and output_scale come
                                # from it; written here as well, they must agree with it
host = "127.0.0.1"
port = 8701
tolerance_bps = 10              # max difference of any proposed OHLC value from ours
rpc_url = "http://127.0.0.1:8545"  # read the oracle's configVersion: sign only the current one
signature_ttl = 600             # sign only reports whose validUntil is at most this far ahead
# Whose observations count: read from the oracle (attesters(), threshold()) with rpc_url, else:
attesters = ["0x...", "0x..."]  # the oracle's attester set
threshold = 2                   # its threshold t = f + 1
min_observations = 0            # observations a proposal must carry (0: 2t - 1 = 2f + 1)

[source]
directory = "data/attester-1"   # this attester's own copy of the market data

[[feeds]]
name = "SPX"
file = "SPX.csv"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from models.data import check_calendar
from oracle.attest.checks import CheckPolicy
from oracle.node.config import FeedConfig, _check_table, read_toml
from oracle.node.errors import ConfigError

# What an attester takes from the circuit (keys of the config, the policy and /v1/health): with
# numbers other than the node's circuit it refuses every proposal (CommitmentMismatch), so they
# are read from the circuit's manifest, not typed.
CIRCUIT_KEYS = ("slots", "input_scale", "output_scale")


@dataclass(frozen=True)
class CircuitShape:
    """The circuit numbers an attester checks proposals with (and `/v1/health` shows)."""

    slots: int  # K: feeds per report
    input_scale: int  # fractional bits of the committed features
    output_scale: int  # fractional bits of the signed realised returns


def read_circuit_shape(circuit_dir: Path) -> CircuitShape:
    """K, input and output scale from `circuit_dir`'s manifest.json (and, when settings.json is
    there, its hash pinned by the manifest); ConfigError naming the file otherwise."""
    from circuits.artifacts import CircuitArtifacts
    from circuits.errors import CircuitError
    from circuits.manifest import CircuitManifest, sha256_file

    artifacts = CircuitArtifacts(circuit_dir)
    try:
        manifest = CircuitManifest.read(artifacts.manifest)
        slots = int(manifest.instance_layout().num_feeds)
        shape = CircuitShape(slots, int(manifest.input_scale), int(manifest.output_scale))
    except CircuitError as exc:
        raise ConfigError(f"attester.circuit_dir: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"attester.circuit_dir: {artifacts.manifest}: unreadable layout ({exc!r})"
        ) from None
    if artifacts.settings.is_file():
        actual = sha256_file(artifacts.settings)
        if actual != manifest.settings_sha256:
            raise ConfigError(
                f"attester.circuit_dir: {artifacts.settings} has sha256 {actual[:16]}…, "
                f"{artifacts.manifest} pins {manifest.settings_sha256[:16]}…"
            )
    return shape


_ATTESTER_KEYS: dict[str, tuple[type, bool]] = {
    "chain_id": (int, True),
    "oracle_address": (str, True),
    "circuit_dir": (str, True),
    "slots": (int, False),
    "input_scale": (int, False),
    "keystore": (str, False),
    "host": (str, False),
    "port": (int, False),
    "tolerance_bps": (float, False),
    "max_move_sigmas": (float, False),
    "output_scale": (int, False),
    "rpc_url": (str, False),
    "signature_ttl": (int, False),
    "attesters": (list, False),
    "threshold": (int, False),
    "min_observations": (int, False),
}
_SOURCE_KEYS: dict[str, tuple[type, bool]] = {"directory": (str, True), "calendar": (str, False)}
_FEED_KEYS: dict[str, tuple[type, bool]] = {"name": (str, True), "file": (str, True)}


@dataclass(frozen=True)
class AttesterConfig:
    """Everything `proofcast attest serve` needs (paths resolved against the config file)."""

    policy: CheckPolicy
    feeds: tuple[FeedConfig, ...]
    source_dir: Path
    circuit_dir: Path
    calendar: str = "business"
    keystore: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8701
    rpc_url: str | None = None  # where the oracle's configVersion is read (None: not checked)


def load_attester_config(path: Path, port: int | None = None) -> AttesterConfig:
    """Read and validate `path`; ConfigError names the key or file."""
    data = read_toml(path, ("attester", "source", "feeds"), "attester config")
    base = path.resolve().parent
    a = _check_table("attester", data.get("attester", {}), _ATTESTER_KEYS)
    source = _check_table("source", data.get("source", {}), _SOURCE_KEYS)
    calendar = source.get("calendar", "business")
    try:
        check_calendar(calendar)
    except ValueError as exc:
        raise ConfigError(f"source.{exc}") from None
    circuit_dir = (base / a["circuit_dir"]).resolve()
    circuit = read_circuit_shape(circuit_dir)
    for key in CIRCUIT_KEYS:
        if key in a and a[key] != getattr(circuit, key):
            raise ConfigError(
                f"{path}: attester.{key} = {a[key]}, but the circuit's "
                f"{circuit_dir / 'manifest.json'} has {key} {getattr(circuit, key)}: remove "
                f"attester.{key} (it is read from the circuit) or fix circuit_dir"
            )
    if not Web3.is_address(a["oracle_address"]):
        raise ConfigError(f"attester.oracle_address: {a['oracle_address']!r} is not an address")
    if a["chain_id"] <= 0:
        raise ConfigError(f"attester.chain_id: must be positive, got {a['chain_id']}")
    if a.get("tolerance_bps", 10.0) < 0:
        raise ConfigError("attester.tolerance_bps: must be >= 0")
    if a.get("max_move_sigmas", 12.0) < 0:
        raise ConfigError("attester.max_move_sigmas: must be >= 0 (0 disables)")
    if a.get("signature_ttl", 600) <= 0:
        raise ConfigError("attester.signature_ttl: must be positive (seconds)")
    members = a.get("attesters", [])
    for i, member in enumerate(members):
        if not isinstance(member, str) or not Web3.is_address(member):
            raise ConfigError(f"attester.attesters[{i}]: {member!r} is not an address")
    if a.get("threshold", 0) < 0 or a.get("min_observations", 0) < 0:
        raise ConfigError("attester.threshold and attester.min_observations must be >= 0")
    if "rpc_url" not in a and not (members and a.get("threshold", 0) > 0):
        raise ConfigError(
            "attester: set rpc_url (the attester set is read from the oracle) or attesters and "
            "threshold (whose observations a proposal must carry)"
        )
    port = a.get("port", 8701) if port is None else port
    if not 0 <= port < 65536:
        raise ConfigError(f"attester.port: {port} is not a TCP port")
    feeds_raw: Any = data.get("feeds")
    if not isinstance(feeds_raw, list) or not feeds_raw:
        raise ConfigError(f"{path}: at least one [[feeds]] entry is required")
    feeds: list[FeedConfig] = []
    for i, table in enumerate(feeds_raw):
        # The source reads our own data unfiltered (max_move_sigmas 0): the plausibility limit
        # is applied to the proposed bars by the checker, which names the refusal.
        feed = FeedConfig(**_check_table(f"feeds[{i}]", table, _FEED_KEYS), max_move_sigmas=0.0)
        if feed.name in {f.name for f in feeds}:
            raise ConfigError(f"feeds[{i}].name: duplicate feed {feed.name!r}")
        feeds.append(feed)
    policy = CheckPolicy(
        chain_id=a["chain_id"],
        oracle=Web3.to_checksum_address(a["oracle_address"]),
        slots=circuit.slots,
        input_scale=circuit.input_scale,
        tolerance_bps=a.get("tolerance_bps", 10.0),
        max_move_sigmas=a.get("max_move_sigmas", 12.0),
        output_scale=circuit.output_scale,
        max_signature_ttl=a.get("signature_ttl", 600),
        attesters=tuple(Web3.to_checksum_address(m) for m in members),
        threshold=a.get("threshold", 0),
        min_observations=a.get("min_observations", 0),
    )
    return AttesterConfig(
        policy=policy,
        feeds=tuple(feeds),
        source_dir=(base / source["directory"]).resolve(),
        circuit_dir=circuit_dir,
        calendar=calendar,
        keystore=(base / a["keystore"]).resolve() if "keystore" in a else None,
        host=a.get("host", "127.0.0.1"),
        port=port,
        rpc_url=a.get("rpc_url"),
    )
