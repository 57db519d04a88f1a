"""docs/walkthrough.md as a test: from an empty anvil to a published round using only the
operator commands (keys new, deploy, admin ..., attest serve, node publish-once), then the
governance the same commands report once the oracle has a report: a change is queued, refused
before its eta and executed after it.

The circuit is the session's small K=2 circuit (tests/oracle/conftest.py), not the demo's
OracleModel (building that takes minutes): its network is no federated OracleModel, so the
round directory `register-model --from-manifest` reads is written here in the federated
manifest format (`federated.manifest.save_round`) with the circuit network's hash as its
`oracle_model_hash`. Everything else is what an operator runs: real anvil, a real
`proofcast attest serve` process, a real EZKL proof verified by the deployed verifier.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result
from web3 import Web3

from federated.manifest import save_round
from models.identity import model_hash_hex
from oracle.attest.processes import AttesterProcesses
from oracle.chain.anvil import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, AnvilNode
from oracle.chain.contracts import feed_id
from oracle.cli import app
from oracle.node.keys import PASSWORD_ENV
from oracle.ops.deployment import DeploymentFile
from tests.oracle.node.conftest import FEEDS, Circuit, _candles_end, node_model, write_config
from tests.oracle.node.market import write_candles

runner = CliRunner()
PASSWORD = "walkthrough"


def run(*args: str, key: str | None = ANVIL_DEV_KEY) -> Result:
    """One `proofcast` command in-process (the admin's key from the environment)."""
    env = {PASSWORD_ENV: PASSWORD}
    if key is not None:
        env["PROOFCAST_PRIVATE_KEY"] = key
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, f"proofcast {' '.join(args)}:\n{result.output}"
    return result


def new_key(path: Path) -> str:
    """`proofcast keys new`: the address it prints."""
    output = run("keys", "new", "--out", str(path), key=None).output
    return Web3.to_checksum_address(output.split("address")[-1].strip())


def attester_toml(path: Path, rpc_url: str, oracle: str, circuit_dir: Path) -> Path:
    """The attester config of docs/walkthrough.md (its data in ./data)."""
    feeds = "".join(f'\n[[feeds]]\nname = "{n}"\nfile = "{n}.csv"\n' for n in FEEDS)
    path.write_text(
        "[attester]\n"
        f"chain_id = {ANVIL_CHAIN_ID}\n"
        f'oracle_address = "{oracle}"\n'
        f'rpc_url = "{rpc_url}"\n'
        'keystore = "attester.json"\n'
        f'circuit_dir = "{circuit_dir}"\n'
        '\n[source]\ndirectory = "data"\ncalendar = "daily"\n' + feeds
    )
    return path


@pytest.mark.slow
def test_walkthrough_from_an_empty_anvil_to_a_published_round(
    tmp_path: Path, circuit: Circuit
) -> None:
    with AnvilNode(log_path=tmp_path / "anvil.log") as anvil:
        rpc = anvil.rpc_url
        w3 = Web3(Web3.HTTPProvider(rpc))
        node_address = new_key(tmp_path / "node.json")
        attester_dir = tmp_path / "attester"
        attester_dir.mkdir()
        attester_address = new_key(attester_dir / "attester.json")

        # 1. deploy: verifier, RiskOracle, adapters, MarginEngine; the deployment file
        deployment = tmp_path / "deployment.json"
        feeds = ",".join(FEEDS)
        run("deploy", "--rpc-url", rpc, "--circuit", str(circuit.artifacts.root),
            "--feeds", feeds, "--margin-engine", "--governance-delay", "1h",
            "--out", str(deployment))  # fmt: skip
        record = DeploymentFile.read(deployment)
        assert record.chain_id == ANVIL_CHAIN_ID and record.feeds == list(FEEDS)
        # per feed: each output as proved, and the volatility (output 0; output 1 is the
        # backtested VaR) also in daily and annualised percent
        raw = {f"{f}/{o}" for f in FEEDS for o in ("out0", "out1")}
        human = {f"{f}/out0:{kind}" for f in FEEDS for kind in ("daily_pct", "annual_pct")}
        assert set(record.adapters) == raw | human
        assert record.margin_engine and record.governance_delay == 3600
        on = ("--rpc-url", rpc, "--deployment", str(deployment))

        # 2. admin: feeds (daily bars up to 5 days old here), attesters, model, transmitter
        for name in FEEDS:
            run("admin", "configure-feed", name, *on, "--max-age", "30d",
                "--limit", "out0=-1000:1000:1000", "--limit", "out1=-1000:1000:1000")  # fmt: skip
        run("admin", "set-attesters", attester_address, "--threshold", "1", *on)
        round_dir = tmp_path / "federated" / "round-001"
        save_round(tmp_path / "federated", 1, {"net": node_model(0)}, participants=["a", "b"],
                   failures=0, aggregation="fedavg", secagg=False, dp={"epsilon": 2.5},
                   metrics={"qlike": 0.42})  # fmt: skip
        manifest = json.loads((round_dir / "manifest.json").read_text())
        manifest["oracle_model_hash"] = model_hash_hex(node_model(0))
        (round_dir / "manifest.json").write_text(json.dumps(manifest))
        registered = run("admin", "register-model", "--from-manifest", str(round_dir), *on)
        assert "done" in registered.output
        run("admin", "allow-transmitter", node_address, *on)
        # fund the node (anvil: anvil_setBalance, as docs/walkthrough.md does with curl)
        w3.provider.make_request("anvil_setBalance", [node_address, hex(10**19)])

        # 3. market data for the node and its own copy for the attester
        data = tmp_path / "data"
        data.mkdir()
        for seed, name in enumerate(FEEDS):
            write_candles(data / f"{name}.csv", _candles_end(), days=40, seed=seed)
        shutil.copytree(data, attester_dir / "data")
        config = attester_toml(attester_dir / "attester.toml", rpc, record.oracle,
                               circuit.artifacts.root)  # fmt: skip

        # 4. attest serve (a real process) and node publish-once
        with AttesterProcesses([config], PASSWORD, tmp_path / "logs") as attesters:
            node_toml = write_config(
                tmp_path / "node.toml", rpc, "0x" + "00" * 20, circuit.artifacts.root,
                attesters=f'["{attesters.urls[0]}"]', keystore='"node.json"',
            )  # fmt: skip
            published = run("node", "publish-once", "-c", str(node_toml),
                            "--deployment", str(deployment), key=None)  # fmt: skip
            assert "round 1: confirmed" in published.output
            again = runner.invoke(
                app, ["node", "publish-once", "-c", str(node_toml), "--deployment",
                      str(deployment)], env={PASSWORD_ENV: PASSWORD},
            )  # fmt: skip
            assert again.exit_code == 1 and "nothing published" in again.output, again.output

        oracle = w3.eth.contract(address=record.oracle, abi=_ORACLE_VIEWS)
        assert oracle.functions.reportCount().call() == 1
        assert [oracle.functions.latestRoundId(feed_id(f)).call() >> 8 for f in FEEDS] == [1, 1]
        status = run("admin", "status", *on, key=None).output
        assert "1 reports" in status and "wait 3600 s" in status and node_address in status

        # 5. after the first report a governed change is queued, refused early, run after eta
        other = Web3.to_checksum_address("0x" + "ab" * 20)
        queued = run("admin", "allow-transmitter", other, *on).output
        assert "queued" in queued
        change = queued.split("as change ")[1].split(";")[0]
        early = runner.invoke(app, ["admin", "execute", change, *on],
                              env={"PROOFCAST_PRIVATE_KEY": ANVIL_DEV_KEY})  # fmt: skip
        assert early.exit_code == 1 and "ChangeNotReady" in early.output, early.output
        assert not oracle.functions.isTransmitter(other).call()
        w3.provider.make_request("evm_increaseTime", [3601])
        w3.provider.make_request("evm_mine", [])
        run("admin", "execute", change, *on)
        assert oracle.functions.isTransmitter(other).call()


_ORACLE_VIEWS = [
    {"name": name, "type": "function", "stateMutability": "view", "inputs": inputs,
     "outputs": [{"name": "", "type": kind}]}
    for name, inputs, kind in (
        ("reportCount", [], "uint32"),
        ("latestRoundId", [{"name": "feedId", "type": "bytes32"}], "uint256"),
        ("isTransmitter", [{"name": "a", "type": "address"}], "bool"),
    )
]  # fmt: skip
