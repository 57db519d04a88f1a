"""Prometheus text exposition on a loopback /metrics endpoint."""

import urllib.error
import urllib.request

import pytest

from oracle.node.metrics import Metrics, MetricsServer


def test_metrics_endpoint_serves_prometheus_text() -> None:
    metrics = Metrics()
    metrics.inc("proofcast_rounds_total", state="confirmed")
    metrics.inc("proofcast_rounds_total", state="confirmed")
    metrics.set("proofcast_feed_staleness_seconds", 12.5, feed="ETH-USD")
    server = MetricsServer(metrics, port=0).start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        body = urllib.request.urlopen(url, timeout=5).read().decode()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other", timeout=5)
    finally:
        server.stop()
    assert "# TYPE proofcast_rounds_total counter" in body
    assert 'proofcast_rounds_total{state="confirmed"} 2' in body
    assert 'proofcast_feed_staleness_seconds{feed="ETH-USD"} 12.5' in body
