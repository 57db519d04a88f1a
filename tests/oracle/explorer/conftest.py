"""A chain with real published rounds for the explorer, and a headless Chromium to look at it.

One anvil of its own (the tests move its clock), the node tests' K=2 circuit, a RiskOracle with
two feeds (ETH-USD maxAge 30 days, BTC-USD maxAge 6 days), three attesters (threshold 2), the
real node publishing three proved rounds and then one round the oracle rejects
(`UnauthorizedTransmitter`), an active model linked to a federated manifest and a retired one.
The third round's ETH-USD bar falls 1 point below the VaR published the day before (a breach);
BTC-USD skips a day before it (a gap in its backtest).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from federated.manifest import metrics_hash, save_round
from models.identity import model_hash
from oracle.attest.checks import CheckPolicy
from oracle.attest.local import LocalAttesters, attester_keys
from oracle.attest.server import BackgroundServer
from oracle.chain.anvil import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.contracts import (
    ModelSpec,
    OracleStack,
    deploy_oracle,
    feed_id,
    register_model,
    retire_model,
    send,
)
from oracle.chain.verifier import deploy_verifier
from oracle.explorer.reader import ExplorerReader
from oracle.explorer.site import create_app
from oracle.node import journal as J
from oracle.node.config import load_config
from oracle.node.journal import Journal, Round
from oracle.node.keys import SigningKey
from oracle.node.runner import Node
from oracle.node.sources import CsvDirectorySource
from tests.oracle.node.conftest import (
    FEEDS,
    THRESHOLD,
    UNREGISTERED,
    Circuit,
    feed_spec,
    node_model,
    toml_list,
    write_config,
)
from tests.oracle.node.market import append_candle, write_candles
from tests.oracle.node.test_backtest import next_day

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECT_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = PROJECT_ROOT / "results" / "explorer"
MAX_AGE = {"ETH-USD": 30 * 86_400, "BTC-USD": 6 * 86_400}
ROUNDS = 3  # accepted rounds per feed
BREACH_FEED, GAP_FEED = "ETH-USD", "BTC-USD"  # the third round: a breach day, a missed day
ATTESTERS = 3
REFRESH = 0.5  # seconds between the pages' polls


@dataclass
class Published:
    """What the fixture put on chain and in the journal (the tests' independent record)."""

    anvil: AnvilNode
    w3: Web3
    stack: OracleStack
    journal: Path
    federated: Path
    transmitter: str
    confirmed: list[Round]
    rejected: Round
    active_model: str
    retired_model: str

    def reader(self, **kwargs: Any) -> ExplorerReader:
        return ExplorerReader(
            self.w3,
            self.stack.oracle.address,
            federated=self.federated,
            journal=self.journal,
            **kwargs,
        )

    def warp(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])


def _hex(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _breach_and_gap_day(stack: OracleStack, data: Path) -> None:
    """ETH-USD's next bar loses 1 point more than its last published VaR (output 1); BTC-USD
    gets two bars, so its next round does not follow its last observation."""
    fid = feed_id(BREACH_FEED)
    var_answer = stack.oracle.functions.feedRound(fid, 0).call()[4][1]  # latest round, output 1
    decimals = stack.oracle.functions.feeds(fid).call()[4]
    next_day(data / f"{BREACH_FEED}.csv", -var_answer / 10**decimals - 1)
    for seed in (7, 8):
        append_candle(data / f"{GAP_FEED}.csv", seed=seed)


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, circuit: Circuit) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("explorer")
    with AnvilNode(log_path=root / "anvil.log") as anvil:
        w3 = connect(anvil.rpc_url, ANVIL_DEV_KEY, expected_chain_id=ANVIL_CHAIN_ID)
        verifier = deploy_verifier(w3, circuit.artifacts)
        keys = attester_keys(ATTESTERS)
        stack = deploy_oracle(
            w3,
            verifier.address,
            circuit.build.layout,
            [feed_spec(name, max_age=MAX_AGE[name]) for name in FEEDS],
            attesters=[k.address for k in keys],
            threshold=THRESHOLD,
        )
        # The active model, as a federated round manifest names it.
        federated = root / "federated"
        active = node_model(0)
        manifest = save_round(
            federated,
            3,
            {"oracle": active},
            participants=["provider-a", "provider-b", "provider-c"],
            failures=0,
            aggregation="trimmed-mean",
            secagg=False,
            dp={"epsilon": 2.5, "delta": 1e-5},
            metrics={"val_qlike": 0.125, "val_pinball": 0.0375},
        )
        active_hash = model_hash(active)
        assert manifest.model_hashes["oracle"] == _hex(active_hash)
        register_model(
            stack,
            ModelSpec(
                active_hash,
                round=3,
                dp_epsilon_milli=2500,
                record_epsilon_milli=7800,
                delta_exponent=5,
                metrics_hash=metrics_hash(manifest.metrics),
            ),
        )
        retired_hash = model_hash(node_model(7))  # the circuit's UNREGISTERED weights
        assert UNREGISTERED
        register_model(stack, ModelSpec(retired_hash, round=2))
        retire_model(stack, retired_hash)

        account = Account.create()
        send(w3, stack.oracle.functions.setTransmitter(account.address, True), "setTransmitter")
        tx = w3.eth.send_transaction({"to": account.address, "value": Web3.to_wei(10, "ether")})
        w3.eth.wait_for_transaction_receipt(tx)

        data = root / "data"
        data.mkdir()
        end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)
        for seed, name in enumerate(FEEDS):
            write_candles(data / f"{name}.csv", end, days=40, seed=20 + seed)
        policy = CheckPolicy(
            ANVIL_CHAIN_ID,
            stack.oracle.address,
            slots=circuit.build.layout.num_feeds,
            input_scale=circuit.build.input_scale,
        )
        with LocalAttesters([data] * ATTESTERS, policy, FEEDS, keys=keys) as attesters:
            config_path = write_config(
                root / "node.toml",
                anvil.rpc_url,
                stack.oracle.address,
                circuit.artifacts.root,
                attesters=toml_list(attesters.urls),
            )
            config = load_config(config_path, env={})
            source = CsvDirectorySource(config.source_dir, calendar=config.calendar)
            node = Node(config, SigningKey("0x" + bytes(account.key).hex()), source,
                        Journal(config.journal))  # fmt: skip
            confirmed = []
            for day in range(ROUNDS + 1):
                if day == ROUNDS - 1:
                    _breach_and_gap_day(stack, data)
                elif day:
                    for k, name in enumerate(FEEDS):
                        append_candle(data / f"{name}.csv", seed=100 * day + k)
                if day == ROUNDS:  # the last round: the oracle refuses this transmitter
                    send(
                        w3,
                        stack.oracle.functions.setTransmitter(account.address, False),
                        "setTransmitter",
                    )
                tick = node.tick()
                assert tick.round is not None, tick
                if day < ROUNDS:
                    assert tick.round.state == J.CONFIRMED, tick.round
                    confirmed.append(tick.round)
                else:
                    assert tick.round.state == J.REVERTED, tick.round
                    rejected = tick.round
            node.journal.close()
        yield Published(
            anvil=anvil,
            w3=w3,
            stack=stack,
            journal=config.journal,
            federated=federated,
            transmitter=account.address,
            confirmed=confirmed,
            rejected=rejected,
            active_model=_hex(active_hash),
            retired_model=_hex(retired_hash),
        )


@pytest.fixture(scope="session")
def explorer(published: Published) -> Iterator[str]:
    """The live explorer (FastAPI on uvicorn, on loopback) over the published oracle: its URL."""
    with BackgroundServer(create_app(published.reader(), refresh=REFRESH)) as server:
        yield server.url


def require_browser(chromium: Path = CHROMIUM, ci: bool | None = None) -> None:
    """Skip (naming what to install) when Chromium or Playwright is missing; in CI fail instead:
    there the browser tests must run."""
    missing = None
    if not chromium.exists():
        missing = (
            f"{chromium} not found: install Debian's chromium "
            "(`apt-get install chromium`, which `make setup` runs)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright for Python is missing: `pip install -e .[dev]` (make setup)"
    if missing:
        if os.environ.get("CI") if ci is None else ci:
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (see `require_browser`). Module scope: the
    sync API keeps an asyncio loop running until it stops, and later tests (EZKL, Flower) need
    `asyncio.run`."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


PHONE = {"width": 390, "height": 844}  # an iPhone 12-14's CSS viewport


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page at phone width (390 CSS px, touch, 3x pixels)."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    yield page
    context.close()


def oracle_answer(published: Published, feed: str, output: int) -> int:
    """The oracle's own latest answer of `output` (`feedRound(feedId, 0)`, raw: what the explorer
    reads, whatever unit an adapter publishes)."""
    return int(published.stack.oracle.functions.feedRound(feed_id(feed), 0).call()[4][output])
