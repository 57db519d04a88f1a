"""The attester server against hostile clients, over real HTTP on loopback: oversized, deeply
nested and garbage bodies, slow (slowloris) requests, oversized slots and bars, and feed ids
made to forge or flood log lines. Each is refused or cut off, and honest proposals are still
signed afterwards."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from models.features import HISTORY_BARS
from oracle.attest.checks import CheckPolicy
from oracle.attest.processes import AttesterProcesses, AttesterSpec, write_attester
from oracle.attest.server import MAX_CONNECTIONS, BackgroundServer, create_app
from oracle.attest.wire import proposal_body_limit
from oracle.node.keys import SigningKey
from tests.oracle.attest.circuit_files import write_circuit
from tests.oracle.attest.test_checks import (
    CHAIN,
    END,
    FEEDS,
    KEYS,
    ORACLE,
    SCALE,
    SET,
    checker,
    propose,
)
from tests.oracle.node.market import write_candles

KEY: SigningKey = KEYS[0]  # the checker's own key (propose() carries its observation)
TIMEOUT = 1.0  # the server's request deadline in these tests (10 s in production)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    for seed, name in enumerate(FEEDS):
        write_candles(tmp_path / f"{name}.csv", END, days=40, seed=seed)
    return tmp_path


@pytest.fixture
def server(data: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(checker(data), KEY), request_timeout=TIMEOUT) as s:
        yield s


def post(server: BackgroundServer, content: bytes) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return httpx.post(f"{server.url}/v1/attest", content=content, headers=headers, timeout=10)


def refusal(response: httpx.Response) -> dict:
    body = response.json()
    assert body["signer"] == KEY.address and len(body["refusals"]) == 1, body
    return body["refusals"][0]


def honest_is_signed(server: BackgroundServer, data: Path) -> None:
    response = post(server, json.dumps(propose(data).to_json()).encode())
    assert response.status_code == 200 and response.json()["signature"].startswith("0x")


def raw(port: int, head: bytes, chunks: Iterable[bytes] = (), wait: float = 5.0) -> bytes:
    """Send `head` then `chunks` on a plain socket (stopping when the server answers or closes);
    everything the server sent until it closed or `wait` seconds passed."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        received = b""
        for chunk in chunks:
            try:
                received += sock.recv(65536)
                break  # the server answered before the body was complete
            except BlockingIOError:
                pass
            except ConnectionResetError:
                return received  # the server closed the connection (a reset on a busy machine)
            try:
                sock.sendall(chunk)
            except (BlockingIOError, OSError):
                break
        sock.settimeout(wait)
        try:
            while part := sock.recv(65536):
                received += part
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def test_nested_huge_and_garbage_bodies_are_refused_before_parsing(
    server: BackgroundServer, data: Path
) -> None:
    limit = proposal_body_limit(2, HISTORY_BARS, CheckPolicy.max_observations)
    # the measured attack (200 KB of nested JSON segfaulted `attest serve`), made larger than
    # the size cap
    half = max(100_000, limit // 2 + 1)
    nested = post(server, b"[" * half + b"]" * half)
    assert nested.status_code == 413 and refusal(nested)["code"] == "BadProposal"
    # nested within the size cap: refused by depth, before json.loads
    deep = post(server, b"[" * 20_000 + b"]" * 20_000)
    assert deep.status_code == 400 and "nested deeper than 16" in refusal(deep)["detail"]
    garbage = post(server, b"\x00\xff{not json")
    assert garbage.status_code == 400 and "not JSON" in refusal(garbage)["detail"]
    # 30 MB announced: refused from its Content-Length, nothing read
    head = (
        b"POST /v1/attest HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        b"Content-Length: 31457280\r\n\r\n"
    )
    assert raw(server.port, head).startswith(b"HTTP/1.1 413")
    # chunked, no length: cut off once past the limit
    head = b"POST /v1/attest HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    block = b" " * 16_384
    chunks = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(4 * limit // len(block)))
    assert raw(server.port, head, chunks).startswith(b"HTTP/1.1 413")
    # headers over 16 KiB
    big = b"POST /v1/attest HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"a" * 40_000 + b"\r\n\r\n"
    assert raw(server.port, big).startswith(b"HTTP/1.1 400")
    honest_is_signed(server, data)


def test_a_slow_body_or_slow_headers_are_cut_off(server: BackgroundServer, data: Path) -> None:
    body = json.dumps(propose(data).to_json()).encode()
    head = b"POST /v1/attest HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)

    def dribble(chunks: list[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            time.sleep(0.1)
            yield chunk

    started = time.monotonic()
    answer = raw(server.port, head, dribble([body[i : i + 1] for i in range(len(body))]))
    assert answer == b""  # closed without an answer, long before the body was sent
    assert time.monotonic() - started < 10 * TIMEOUT
    started = time.monotonic()
    headers = b"POST /v1/attest HTTP/1.1\r\nHost: a\r\n" + b"X-Slow: 1\r\n" * 100
    assert raw(server.port, b"", dribble([headers[i : i + 4] for i in range(0, 2000, 4)])) == b""
    assert time.monotonic() - started < 10 * TIMEOUT
    honest_is_signed(server, data)


def test_slots_and_bars_beyond_the_policy_are_refused_first(
    server: BackgroundServer, data: Path
) -> None:
    proposal = propose(data).to_json()
    many = post(server, json.dumps(proposal | {"slots": [None] * 5000}).encode())
    assert many.status_code == 422 and refusal(many)["code"] == "SlotCount"
    slot = proposal["slots"][0]
    long_bars = {**slot["bars"], "close": slot["bars"]["close"] * 100}
    slots = [{**slot, "bars": long_bars}, proposal["slots"][1]]
    bars = post(server, json.dumps(proposal | {"slots": slots}).encode())
    assert bars.status_code == 422
    values = len(long_bars["close"])
    assert refusal(bars)["code"] == "BadBars" and f"{values} values" in refusal(bars)["detail"]


def test_feed_ids_cannot_forge_or_flood_log_lines(
    server: BackgroundServer, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proposal = propose(data).to_json()
    forged = "ETH-USD\n2026-01-31 attester INFO signed ETH-USD"
    huge = "E" * 40_000

    def with_feed(name: str) -> bytes:
        return json.dumps(proposal | {"slots": [{**proposal["slots"][0], "feed": name}, None]})

    with caplog.at_level(logging.INFO, logger="proofcast.attest"):
        assert post(server, with_feed(forged).encode()).status_code == 422
        assert post(server, with_feed(huge).encode()).status_code == 422
    lines = [r.getMessage() for r in caplog.records if r.name == "proofcast.attest"]
    assert len(lines) == 2, lines
    assert "\n" not in lines[0] and "ETH-USD\\n2026-01-31" in lines[0]
    assert len(lines[1]) < 300 and "40000 characters" in lines[1]
    measured = post(server, with_feed("E" * 100_000).encode())  # froze an attester for 5.5 min
    assert measured.status_code == 422 and "100000 characters" in refusal(measured)["detail"]
    over_cap = "E" * proposal_body_limit(2, HISTORY_BARS, CheckPolicy.max_observations)
    assert post(server, with_feed(over_cap).encode()).status_code == 413


def test_attest_serve_process_survives_the_measured_attacks(tmp_path: Path, data: Path) -> None:
    """The real `proofcast attest serve` (py_ecc imported, recursion limit raised by it): the
    200 KB nested body that segfaulted it, nested JSON under the size cap, and a feed id with a
    newline. It stays up, keeps signing, and its log has no forged line."""
    spec = AttesterSpec(tmp_path / "attester", {n: f"{n}.csv" for n in FEEDS}, key=KEY)
    shutil.copytree(data, spec.data_dir)
    circuit = write_circuit(tmp_path / "circuit", slots=2, input_scale=SCALE)
    config = write_attester(spec, CHAIN, ORACLE, circuit, "pw", attesters=SET, threshold=2)
    with AttesterProcesses([config], "pw", tmp_path / "logs") as procs:
        url = procs.urls[0]
        attest = f"{url}/v1/attest"
        json_type = {"content-type": "application/json"}
        # the measured 200 KB body (under the size cap now that proposals carry 531 bars: refused
        # by depth before parsing), one over the cap, and one far below it
        over = proposal_body_limit(2, HISTORY_BARS, CheckPolicy.max_observations) // 2 + 1
        for depth, status in ((100_000, 400), (over, 413), (20_000, 400)):
            body = b"[" * depth + b"]" * depth
            assert httpx.post(attest, content=body, headers=json_type).status_code == status
        proposal = propose(data).to_json()
        forged = {**proposal["slots"][0], "feed": "ETH-USD\nFORGED attester INFO signed"}
        sent = httpx.post(attest, json=proposal | {"slots": [forged, None]})
        assert sent.status_code == 422
        signed = httpx.post(attest, json=proposal, timeout=30)
        assert signed.status_code == 200, signed.text
        assert procs.procs[0].poll() is None
    log = (tmp_path / "logs" / "attester-1.log").read_text()
    assert "nested deeper than 16" in log and "ETH-USD\\nFORGED" in log
    assert not any(line.startswith("FORGED") for line in log.splitlines()), log


def test_connections_beyond_the_limit_get_503_until_idle_ones_are_closed(
    server: BackgroundServer, data: Path
) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # let the server accept them all
        busy = httpx.get(f"{server.url}/v1/health", timeout=5)
        assert busy.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    honest_is_signed(server, data)
