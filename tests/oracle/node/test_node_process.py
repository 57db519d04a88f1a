"""`proofcast node run` as an operator runs it: JSON logs, /metrics, clean exit on SIGTERM,
and the key (given only through the environment) never in any output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from oracle.chain.anvil import free_loopback_port
from oracle.node.journal import Journal
from tests.oracle.node.conftest import Deployment
from tests.oracle.node.test_crash_recovery import PROOFCAST

pytestmark = pytest.mark.slow


def scrape(port: int) -> str:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return ""


def test_node_serves_metrics_and_stops_cleanly_on_sigterm(deployment: Deployment) -> None:
    port = free_loopback_port()
    env = os.environ | {"PROOFCAST_PRIVATE_KEY": deployment.key}
    cmd = [PROOFCAST, "node", "run", "-c", str(deployment.config), "--json-logs"]
    proc = subprocess.Popen(
        [*cmd, "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while 'proofcast_rounds_total{state="confirmed"} 1' not in scrape(port):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no confirmed round within 240 s"
            time.sleep(0.5)
        metrics = scrape(port)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "proofcast_proof_seconds_count 1.0" in metrics and "proofcast_submit_gas " in metrics
    assert 'proofcast_feed_staleness_seconds{feed="ETH-USD"}' in metrics
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    messages = [r["msg"] for r in records]
    assert any(m.startswith("round 1 confirmed in block") for m in messages)
    assert messages[-1] == "clean shutdown"
    assert all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
    key = deployment.key.removeprefix("0x")
    assert key not in out and key not in err
    with Journal(deployment.journal) as journal:
        assert [r.state for r in journal.rounds()] == ["confirmed"]
