"""Prometheus exposition (prometheus_client) on a loopback /metrics endpoint."""

import urllib.request

from oracle.node.metrics import Metrics, MetricsServer


def test_metrics_endpoint_serves_prometheus_text() -> None:
    metrics = Metrics()
    metrics.inc("proofcast_rounds_total", state="confirmed")
    metrics.inc("proofcast_rounds_total", state="confirmed")
    metrics.set("proofcast_feed_staleness_seconds", 12.5, feed="ETH-USD")
    metrics.observe("proofcast_proof_seconds", 4.2)
    server = MetricsServer(metrics, port=0).start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        body = urllib.request.urlopen(url, timeout=5).read().decode()
    finally:
        server.stop()
    assert "# TYPE proofcast_rounds_total counter" in body
    assert 'proofcast_rounds_total{state="confirmed"} 2.0' in body
    assert 'proofcast_feed_staleness_seconds{feed="ETH-USD"} 12.5' in body
    assert 'proofcast_proof_seconds_bucket{le="5.0"} 1.0' in body
    assert "process_resident_memory_bytes" in body  # standard process metrics come free
    assert metrics.get("proofcast_rounds_total", state="confirmed") == 2
    assert metrics.get("proofcast_errors_total", kind="data") == 0


def test_grafana_dashboard_only_uses_series_the_node_exports() -> None:
    import json
    import re
    from pathlib import Path

    from oracle.node.metrics import SPECS

    path = Path(__file__).parents[3] / "oracle" / "node" / "grafana-dashboard.json"
    dashboard = json.loads(path.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = set(re.findall(r"\b(proofcast_[a-z_]+|process_[a-z_]+)", " ".join(exprs)))
    exported = set(SPECS) | {f"{n}_bucket" for n, s in SPECS.items() if s[0] == "histogram"}
    assert names - {"process_resident_memory_bytes"} <= exported, names - exported
    assert {"proofcast_feed_staleness_seconds", "proofcast_disk_bytes"} <= names
