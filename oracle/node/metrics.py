"""The node's Prometheus metrics (`prometheus_client`), served on a loopback `/metrics`.

One registry per node: the node's counters and gauges, a proof-time histogram, and the
standard process metrics (CPU, RSS, open files) and platform info that the library provides.
`Metrics` keeps the small inc/set/observe/get surface the runner uses. A Grafana dashboard for
these series is in `oracle/node/grafana-dashboard.json`.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)

# name -> (kind, help, label names); counters are exposed with the `_total` suffix.
SPECS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "proofcast_rounds_total": ("counter", "Rounds by final state.", ("state",)),
    "proofcast_errors_total": (
        "counter",
        "Errors by kind (data, attest, revert, fee_cap).",
        ("kind",),
    ),
    "proofcast_rpc_retries_total": ("counter", "RPC calls retried after a failure.", ()),
    "proofcast_fee_bumps_total": ("counter", "Submissions replaced with higher fees.", ()),
    "proofcast_proofs_total": ("counter", "Proofs generated.", ()),
    "proofcast_gas_used_total": ("counter", "Gas used by all confirmed submissions.", ()),
    "proofcast_submit_gas": ("gauge", "Gas used by the last confirmed submission.", ()),
    "proofcast_feed_staleness_seconds": (
        "gauge",
        "Seconds since each feed's on-chain update.",
        ("feed",),
    ),
    "proofcast_feed_answer": ("gauge", "Each feed output's on-chain answer.", ("feed",)),
    "proofcast_last_tick_timestamp": ("gauge", "Unix time of the last loop iteration.", ()),
    "proofcast_disk_bytes": ("gauge", "Bytes of the journal and kept proof files.", ()),
    "proofcast_proof_seconds": ("histogram", "Wall time of each proof.", ()),
}
PROOF_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    """The node's metrics in their own registry (tests can build as many nodes as they like)."""

    def __init__(self, process: bool = True) -> None:
        self.registry = CollectorRegistry()
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self._metrics = {}
        for name, (kind, text, labels) in SPECS.items():
            if kind == "counter":
                metric = Counter(name.removesuffix("_total"), text, labels, registry=self.registry)
            elif kind == "gauge":
                metric = Gauge(name, text, labels, registry=self.registry)
            else:
                metric = Histogram(
                    name, text, labels, buckets=PROOF_BUCKETS, registry=self.registry
                )
            self._metrics[name] = metric

    def _child(self, name: str, labels: dict[str, str]):
        metric = self._metrics[name]
        return metric.labels(**labels) if labels else metric

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._child(name, labels).inc(amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        self._child(name, labels).set(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._child(name, labels).observe(value)

    def get(self, name: str, **labels: str) -> float:
        """Current value of a counter or gauge (a histogram's sum), 0 when never set."""
        sample = f"{name}_sum" if SPECS[name][0] == "histogram" else name
        return self.registry.get_sample_value(sample, labels) or 0.0

    def render(self) -> str:
        """The Prometheus text exposition of the registry."""
        return generate_latest(self.registry).decode()


class MetricsServer:
    """Serve the registry at http://127.0.0.1:<port>/metrics (prometheus_client's server)."""

    def __init__(self, metrics: Metrics, port: int, host: str = "127.0.0.1") -> None:
        self.metrics, self.host, self.requested = metrics, host, port
        self.port = port

    def start(self) -> MetricsServer:
        self._server, self._thread = start_http_server(
            self.requested, addr=self.host, registry=self.metrics.registry
        )
        self.port = int(self._server.server_address[1])
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
