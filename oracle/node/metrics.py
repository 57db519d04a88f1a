"""Prometheus metrics in the text exposition format, served on a loopback `/metrics` endpoint.

A few counters and gauges need no dependency: a stdlib HTTP server on a daemon thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HELP = {
    "proofcast_rounds_total": ("counter", "Rounds by final state (confirmed, reverted, ...)."),
    "proofcast_errors_total": ("counter", "Errors by kind (rpc, data, revert, prove)."),
    "proofcast_rpc_retries_total": ("counter", "RPC calls retried after a failure."),
    "proofcast_proof_seconds": ("gauge", "Wall time of the last proof."),
    "proofcast_proof_seconds_sum": ("counter", "Total proving time."),
    "proofcast_proofs_total": ("counter", "Proofs generated."),
    "proofcast_gas_used": ("gauge", "Gas used by the last confirmed submission."),
    "proofcast_gas_used_total": ("counter", "Gas used by all confirmed submissions."),
    "proofcast_feed_staleness_seconds": ("gauge", "Seconds since each feed's on-chain update."),
    "proofcast_feed_answer": ("gauge", "Each feed's on-chain answer."),
    "proofcast_last_tick_timestamp": ("gauge", "Unix time of the node's last loop iteration."),
}


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


@dataclass
class Metrics:
    """Thread-safe counters and gauges keyed by (name, labels)."""

    _values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] = float(value)

    def get(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        """The Prometheus text exposition of every value."""
        with self._lock:
            items = sorted(self._values.items())
        lines: list[str] = []
        seen: set[str] = set()
        for (name, labels), value in items:
            if name not in seen:
                seen.add(name)
                kind, text = _HELP.get(name, ("untyped", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            lines.append(f"{name}{_labels(dict(labels))} {value:g}")
        return "\n".join(lines) + "\n"


class MetricsServer:
    """Serve `metrics.render()` at http://127.0.0.1:<port>/metrics on a daemon thread."""

    def __init__(self, metrics: Metrics, port: int, host: str = "127.0.0.1") -> None:
        registry = metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = registry.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep scrapes out of the node log
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
