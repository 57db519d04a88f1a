"""The explorer's HTTP surface without a browser: JSON endpoints, unknown pages, a dead RPC."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from oracle.chain.anvil import free_loopback_port
from oracle.explorer.reader import ExplorerReader, connect_readonly
from oracle.explorer.site import create_app
from tests.oracle.explorer.conftest import FEEDS, ROUNDS, Published

pytestmark = pytest.mark.slow


def test_json_endpoints_and_unknown_pages(published: Published) -> None:
    client = TestClient(create_app(published.reader(), refresh=1.0))
    snapshot = client.get("/api/snapshot.json").json()
    assert [f["name"] for f in snapshot["feeds"]] == list(FEEDS)
    assert len(snapshot["reports"]) == ROUNDS
    page = client.get("/api/pages/reports.json").json()
    assert page["block"] == snapshot["oracle"]["block"] and 'data-report="1"' in page["html"]
    assert client.get("/static/plotly.min.js").status_code == 200
    assert client.get("/nope").status_code == 404
    assert "pages: feeds, reports" in client.get("/api/pages/nope.json").json()["detail"]


def test_a_dead_rpc_is_reported_and_the_server_stays_up(published: Published) -> None:
    reader = ExplorerReader(
        connect_readonly(published.anvil.rpc_url), published.stack.oracle.address
    )
    reader.w3.provider = Web3.HTTPProvider(f"http://127.0.0.1:{free_loopback_port()}")
    client = TestClient(create_app(reader, refresh=1.0))
    response = client.get("/")
    assert response.status_code == 503 and "Cannot read the chain" in response.text
    assert client.get("/api/pages/feeds.json").status_code == 503
