"""One-shot node commands against an unreachable or wrong RPC and a bad config: a one-line
error within a bounded time, exit status 1, and nothing written to disk (no journal)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from oracle.chain.anvil import free_loopback_port
from oracle.cli import app
from oracle.node.cli import ONE_SHOT_ATTEMPTS
from tests.oracle.node.conftest import FEEDS, Chain, Circuit, _candles_end, write_config
from tests.oracle.node.market import write_candles

runner = CliRunner()
ENV = {"PROOFCAST_PRIVATE_KEY": "0x" + "33" * 32}
ORACLE = Account.create().address  # no code there, whatever the session deployed before


def node_dir(tmp_path: Path, rpc_url: str, circuit: Circuit, **node: object) -> Path:
    """A config whose journal would go to state/journal.sqlite (a directory not yet there)."""
    data = tmp_path / "data"
    data.mkdir(parents=True)
    for seed, name in enumerate(FEEDS):
        write_candles(data / f"{name}.csv", _candles_end(), days=40, seed=seed)
    settings = {
        "attesters": '["http://127.0.0.1:9"]',
        "journal": '"state/journal.sqlite"',
        "backoff_initial_seconds": "0.5",
        "backoff_max_seconds": "30",
    } | node
    return write_config(tmp_path / "node.toml", rpc_url, ORACLE, circuit.artifacts.root, **settings)


def no_journal(tmp_path: Path) -> bool:
    return not (tmp_path / "state").exists()


@pytest.mark.parametrize("command", ["status", "publish-once", "prove-once"])
def test_an_unreachable_rpc_fails_fast_with_one_line_and_writes_nothing(
    tmp_path: Path, circuit: Circuit, command: str
) -> None:
    closed = f"http://127.0.0.1:{free_loopback_port()}"  # nothing listens there
    config = node_dir(tmp_path, closed, circuit)
    started = time.monotonic()
    result = runner.invoke(app, ["node", command, "-c", str(config)], env=ENV)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: RPC {closed} unavailable for eth_chainId after {ONE_SHOT_ATTEMPTS} attempts: "
        "ConnectionError"
    ], result.output
    assert elapsed < 10, elapsed  # 0.5 s + 1 s of backoff; was: retried forever
    assert no_journal(tmp_path)


def test_a_config_that_does_not_validate_leaves_no_journal(
    tmp_path: Path, chain: Chain, circuit: Circuit
) -> None:
    config = node_dir(tmp_path, chain.node.rpc_url, circuit)
    wrong_chain = runner.invoke(
        app, ["node", "status", "-c", str(config), "--chain-id", "1"], env=ENV
    )
    assert wrong_chain.exit_code == 1 and "node.chain_id: RPC" in wrong_chain.output
    no_contract = runner.invoke(app, ["node", "publish-once", "-c", str(config)], env=ENV)
    assert no_contract.exit_code == 1 and f"no contract at {ORACLE}" in no_contract.output
    config = node_dir(tmp_path / "m", chain.node.rpc_url, circuit, model='"missing"')
    no_model = runner.invoke(app, ["node", "status", "-c", str(config)], env=ENV)
    assert no_model.exit_code == 1 and "node.model: no compiled weights" in no_model.output
    assert no_journal(tmp_path) and no_journal(tmp_path / "m")
