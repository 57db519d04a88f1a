"""One-line errors of the operator commands: an oracle address that is not a RiskOracle (no
code, or code that does not answer RiskOracle's views) in admin, explorer and node commands
(one shared check, `require_risk_oracle`), and an unreachable RPC that gives up after a few
attempts instead of hanging. Real anvil; nothing is mocked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner, Result

from oracle.chain.anvil import ANVIL_DEV_KEY, AnvilNode, free_loopback_port
from oracle.chain.client import connect
from oracle.cli import app
from oracle.ops.rpc import ATTEMPTS
from tests.oracle.node.conftest import FEEDS, Circuit, _candles_end, write_config
from tests.oracle.node.market import write_candles

runner = CliRunner()
ENV = {"PROOFCAST_PRIVATE_KEY": ANVIL_DEV_KEY}
# init code that deploys the one-byte runtime 0x00 (STOP): a contract that answers every call
# with nothing, so RiskOracle's views cannot be decoded from it
STOP_CONTRACT = "0x6001600c60003960016000f300"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(rpc url, address of a contract that is not a RiskOracle)."""
    with AnvilNode(log_path=tmp_path_factory.mktemp("ops-anvil") / "anvil.log") as anvil:
        w3 = connect(anvil.rpc_url, ANVIL_DEV_KEY)
        tx = w3.eth.send_transaction({"data": STOP_CONTRACT})
        address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
        assert w3.eth.get_code(address) == b"\x00"
        yield anvil.rpc_url, address


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    errors = [
        line for line in result.output.splitlines() if "error:" in line or "explorer:" in line
    ]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def admin_commands(rpc: str, oracle: str) -> list[list[str]]:
    on = ["--rpc-url", rpc, "--oracle", oracle]
    return [
        ["admin", "status", *on],
        ["admin", "allow-transmitter", Account.create().address, *on],
        ["admin", "retire-model", "0x" + "11" * 32, *on],
    ]


def test_an_address_without_code_is_named_in_one_line(chain: tuple[str, str]) -> None:
    rpc, _ = chain
    empty = Account.create().address
    for args in admin_commands(rpc, empty):
        line = one_error_line(runner.invoke(app, args, env=ENV))
        assert f"no contract at {empty}: not a RiskOracle" in line, args
    snapshot = ["explorer", "--rpc-url", rpc, "--oracle", empty, "--snapshot", "/nonexistent"]
    assert empty in one_error_line(runner.invoke(app, snapshot))


def test_a_contract_that_is_not_a_riskoracle_is_named_in_one_line(
    chain: tuple[str, str], tmp_path: Path
) -> None:
    rpc, other = chain
    for args in admin_commands(rpc, other):
        line = one_error_line(runner.invoke(app, args, env=ENV))
        assert f"contract at {other} is not a RiskOracle: verifier() failed" in line, args
    snapshot = ["explorer", "--rpc-url", rpc, "--oracle", other, "--snapshot", str(tmp_path)]
    line = one_error_line(runner.invoke(app, snapshot))
    assert f"contract at {other} is not a RiskOracle" in line
    assert not list(tmp_path.iterdir())  # no snapshot written


@pytest.mark.slow
def test_node_commands_refuse_a_contract_that_is_not_a_riskoracle(
    chain: tuple[str, str], circuit: Circuit, tmp_path: Path
) -> None:
    rpc, other = chain
    data = tmp_path / "data"
    data.mkdir()
    for seed, name in enumerate(FEEDS):
        write_candles(data / f"{name}.csv", _candles_end(), days=40, seed=seed)
    config = write_config(tmp_path / "node.toml", rpc, other, circuit.artifacts.root,
                          attesters='["http://127.0.0.1:9"]')  # fmt: skip
    for command in ("status", "publish-once"):
        result = runner.invoke(app, ["node", command, "-c", str(config)], env=ENV)
        line = one_error_line(result)
        assert f"node.oracle_address: contract at {other} is not a RiskOracle" in line
    assert not (tmp_path / "journal.sqlite").exists()


def test_an_unreachable_rpc_is_one_line_after_a_few_attempts(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_loopback_port()}"  # nothing listens there
    oracle = Account.create().address
    commands = [
        *admin_commands(closed, oracle),
        ["deploy", "--rpc-url", closed, "--circuit", str(tmp_path), "--feeds", "a",
         "--out", str(tmp_path / "d.json")],
    ]  # fmt: skip
    for args in commands:
        started = time.monotonic()
        line = one_error_line(runner.invoke(app, args, env=ENV))
        assert time.monotonic() - started < 10, args
        assert line == (
            f"error: RPC {closed} unavailable for eth_chainId after {ATTEMPTS} attempts: "
            "ConnectionError"
        ), args
    assert not (tmp_path / "d.json").exists()


def test_deploy_refuses_to_overwrite_a_deployment_file(tmp_path: Path) -> None:
    existing = tmp_path / "deployment.json"
    existing.write_text("{}")
    args = ["deploy", "--rpc-url", "http://127.0.0.1:9", "--circuit", str(tmp_path),
            "--feeds", "a", "--out", str(existing)]  # fmt: skip
    assert "refusing to overwrite" in one_error_line(runner.invoke(app, args, env=ENV))
    assert existing.read_text() == "{}"


def test_node_refuses_a_deployment_file_of_another_chain(tmp_path: Path) -> None:
    from oracle.ops.deployment import DeploymentFile

    oracle = Account.create().address
    record = DeploymentFile(chain_id=1, block=0, oracle=oracle, verifier=oracle, adapters={},
                            feeds=list(FEEDS))  # fmt: skip
    path = record.write(tmp_path / "deployment.json")
    config = write_config(tmp_path / "node.toml", "http://127.0.0.1:9", "0x" + "00" * 20,
                          tmp_path, attesters='["http://127.0.0.1:9"]')  # fmt: skip
    for command in ("status", "publish-once"):
        args = ["node", command, "-c", str(config), "--deployment", str(path)]
        line = one_error_line(runner.invoke(app, args, env=ENV))
        assert f"deployment file {path} is for chain 1, node.chain_id is 31337" in line
