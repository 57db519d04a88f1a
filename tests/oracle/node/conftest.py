"""Real fixtures for node tests: one K=2 circuit, anvil with the circuit's verifier, and per test
a fresh RiskOracle, a fresh funded transmitter account, growing CSV files, four attesters
(threshold 2 = f + 1, observations 2f + 1 = 3, so one may be down; real HTTP servers reading the
same files) and a config file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from eth_account import Account
from web3 import Web3

from circuits.artifacts import CircuitArtifacts
from circuits.pipeline import CircuitBuild
from models.features import NUM_FEATURES
from models.identity import model_hash
from models.placeholder import make_placeholder_model
from oracle.attest.checks import CheckPolicy
from oracle.attest.local import LocalAttesters, attester_keys
from oracle.chain.anvil import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.contracts import (
    FeedSpec,
    ModelSpec,
    OracleStack,
    OutputSpec,
    deploy_oracle,
    feed_id,
    register_model,
    send,
)
from oracle.chain.verifier import OnChainVerifier, deploy_verifier
from tests.oracle.node.market import write_candles

FEEDS = ("ETH-USD", "BTC-USD")
ATTESTERS = 4  # n = 3f + 1: 2f + 1 observations still arrive with f attesters down
THRESHOLD = 2
WIDE = 10**15
UNREGISTERED = "unregistered"  # weights compiled on the circuit's keys but never registered


@dataclass(frozen=True)
class Circuit:
    build: CircuitBuild
    artifacts: CircuitArtifacts


@dataclass(frozen=True)
class Chain:
    node: AnvilNode
    w3: Web3


@dataclass(frozen=True)
class Deployment:
    """One test's oracle, transmitter key, data directory and config file."""

    stack: OracleStack
    key: str
    address: str
    data_dir: Path
    config: Path
    journal: Path
    rpc_url: str
    attesters: LocalAttesters


def _candles_end() -> dt.date:
    # Bars close at the next midnight UTC; keep a few days of room so appended bars stay past.
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)


def node_model(seed: int) -> torch.nn.Module:
    """A small seeded MLP over the shared features, two outputs per feed (fast to prove)."""
    return make_placeholder_model(seed, num_features=NUM_FEATURES, hidden=8)


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    log = tmp_path_factory.mktemp("node-anvil") / "anvil.log"
    with AnvilNode(log_path=log) as node:
        w3 = connect(node.rpc_url, ANVIL_DEV_KEY, expected_chain_id=ANVIL_CHAIN_ID)
        yield Chain(node, w3)


@pytest.fixture(scope="session")
def verifier(chain: Chain, circuit: Circuit) -> OnChainVerifier:
    return deploy_verifier(chain.w3, circuit.artifacts)


def feed_spec(name: str, **overrides: int) -> FeedSpec:
    wide = tuple(OutputSpec(f"out{j}", -WIDE, WIDE, WIDE) for j in range(2))
    return FeedSpec(name=name, outputs=wide, **({"max_age": 30 * 86_400} | overrides))


def write_config(path: Path, rpc_url: str, oracle: str, circuit_dir: Path, **node: object) -> Path:
    """A node config for FEEDS with `node` keys added/overridden (TOML literals)."""
    settings = {
        "rpc_url": f'"{rpc_url}"',
        "chain_id": str(ANVIL_CHAIN_ID),
        "oracle_address": f'"{oracle}"',
        "circuit_dir": f'"{circuit_dir}"',
        "journal": '"journal.sqlite"',
        "poll_seconds": "0.2",
        "backoff_initial_seconds": "0.2",
        "backoff_max_seconds": "1.0",
        "confirm_timeout_seconds": "5",
    } | {k: str(v) for k, v in node.items()}
    lines = ["[node]", *(f"{k} = {v}" for k, v in settings.items())]
    if "attesters" not in settings:
        raise ValueError("write_config needs attesters=[...] (TOML list of URLs)")
    lines += ["", "[source]", 'directory = "data"', 'calendar = "daily"']
    for name in FEEDS:
        lines += ["", "[[feeds]]", f'name = "{name}"', f'file = "{name}.csv"']
        lines += ["heartbeat_seconds = 86400", "deviation_bps = 0"]
    path.write_text("\n".join(lines) + "\n")
    return path


def onchain_rounds(d: Deployment) -> list[int]:
    """Per feed: the id of the report that carried its latest round (0: none yet). Round ids
    are reportId << 8 | slot."""
    return [d.stack.oracle.functions.latestRoundId(feed_id(f)).call() >> 8 for f in FEEDS]


def toml_list(urls: list[str]) -> str:
    return "[" + ", ".join(f'"{u}"' for u in urls) + "]"


@pytest.fixture
def deployment(
    tmp_path: Path, chain: Chain, verifier: OnChainVerifier, circuit: Circuit
) -> Iterator[Deployment]:
    """A fresh oracle for FEEDS with the circuit's model registered, a fresh transmitter funded
    by the dev account (so its nonces count only the node's transactions), 40 bars per feed and
    ATTESTERS attesters (threshold THRESHOLD) serving on loopback."""
    data = tmp_path / "data"
    data.mkdir()
    for seed, name in enumerate(FEEDS):
        write_candles(data / f"{name}.csv", _candles_end(), days=40, seed=10 + seed)
    keys = attester_keys(ATTESTERS)
    stack = deploy_oracle(
        chain.w3,
        verifier.address,
        circuit.build.layout,
        [feed_spec(name) for name in FEEDS],
        attesters=[k.address for k in keys],
        threshold=THRESHOLD,
    )
    policy = CheckPolicy(
        ANVIL_CHAIN_ID,
        stack.oracle.address,
        slots=circuit.build.layout.num_feeds,
        input_scale=circuit.build.input_scale,
    )
    attesters = LocalAttesters([data] * ATTESTERS, policy, FEEDS, keys=keys)
    register_model(stack, ModelSpec(model_hash(node_model(0))))
    account = Account.create()
    send(chain.w3, stack.oracle.functions.setTransmitter(account.address, True), "setTransmitter")
    tx = chain.w3.eth.send_transaction({"to": account.address, "value": Web3.to_wei(10, "ether")})
    chain.w3.eth.wait_for_transaction_receipt(tx)
    with attesters:
        config = write_config(
            tmp_path / "node.toml",
            chain.node.rpc_url,
            stack.oracle.address,
            circuit.artifacts.root,
            attesters=toml_list(attesters.urls),
        )
        yield Deployment(
            stack=stack,
            key="0x" + bytes(account.key).hex(),
            address=account.address,
            data_dir=data,
            config=config,
            journal=tmp_path / "journal.sqlite",
            rpc_url=chain.node.rpc_url,
            attesters=attesters,
        )
