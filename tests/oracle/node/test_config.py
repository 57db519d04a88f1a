"""Node configuration: TOML, then environment, then flags; every error names its key."""

from pathlib import Path

import pytest

from oracle.node.config import load_config
from oracle.node.errors import ConfigError

ORACLE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

GOOD = f"""
[node]
rpc_url = "http://127.0.0.1:8545"
chain_id = 31337
oracle_address = "{ORACLE.lower()}"
circuit_dir = "circuit"
journal = "state/journal.sqlite"
poll_seconds = 2

[source]
directory = "data"
calendar = "daily"

[[feeds]]
name = "ETH-USD"
file = "eth.csv"
heartbeat_seconds = 600
deviation_bps = 25

[[feeds]]
name = "BTC-USD"
file = "btc.csv"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_valid_config_resolves_paths_and_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), env={})
    assert config.oracle_address == ORACLE  # checksummed
    assert config.journal == (tmp_path / "state/journal.sqlite").resolve()
    assert config.source_dir == (tmp_path / "data").resolve()
    assert [f.name for f in config.feeds] == ["ETH-USD", "BTC-USD"]
    assert config.feed("BTC-USD").heartbeat_seconds == 3600.0  # default
    assert config.feed("ETH-USD").deviation_bps == 25.0 and config.poll_seconds == 2.0


def test_environment_then_flags_override_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    env = {"PROOFCAST_RPC_URL": "http://10.0.0.1:8545", "PROOFCAST_CHAIN_ID": "1"}
    config = load_config(path, env=env)
    assert (config.rpc_url, config.chain_id) == ("http://10.0.0.1:8545", 1)
    config = load_config(path, flags={"chain_id": 5, "rpc_url": None}, env=env)
    assert (config.rpc_url, config.chain_id) == ("http://10.0.0.1:8545", 5)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (("poll_seconds = 2", "poll_secs = 2"), r"node\.poll_secs: unknown key"),
        (("chain_id = 31337", 'chain_id = "mainnet"'), r"node\.chain_id: expected int"),
        (("chain_id = 31337\n", ""), r"node\.chain_id: required"),
        (("heartbeat_seconds = 600", "heartbeat_seconds = 0"), r"feeds\[0\]\.heartbeat_seconds"),
        (('name = "BTC-USD"', 'name = "ETH-USD"'), r"feeds\[1\]\.name: duplicate feed"),
        ((f'"{ORACLE.lower()}"', '"0x1234"'), r"node\.oracle_address: '0x1234' is not an address"),
        (('"http://127.0.0.1:8545"', '"ws://x"'), r"node\.rpc_url"),
        (('calendar = "daily"', 'calendar = "lunar"'), r"source\.calendar"),
        (('directory = "data"', 'kind = "kafka"\ndirectory = "data"'), r"source\.kind"),
        (("[source]", "[sauce]"), r"unknown section \[sauce\]"),
        (("[[feeds]]", "[[feed]]"), r"unknown section \[feed\]"),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, edit: tuple[str, str], match: str) -> None:
    old, new = edit
    assert old in GOOD
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, GOOD.replace(old, new, 1)), env={})


def test_unknown_feed_and_missing_or_broken_file(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), env={})
    with pytest.raises(ConfigError, match=r"unknown feed 'SOL-USD'.*ETH-USD, BTC-USD"):
        config.feed("SOL-USD")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[node\n"), env={})
