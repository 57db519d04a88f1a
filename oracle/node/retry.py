"""Retry RPC calls with exponential backoff and a clear log line per failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
from web3.exceptions import TimeExhausted

from oracle.node.errors import RpcUnavailable

log = logging.getLogger("proofcast.node")
T = TypeVar("T")

# Failures that mean "the endpoint is down or slow", worth retrying; anything else is a bug or
# a real answer (e.g. a revert) and propagates at once.
TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    TimeoutError,
    TimeExhausted,
)


@dataclass(frozen=True)
class Backoff:
    """Delays initial, initial*factor, ... capped at `maximum`; `attempts` 0 = forever."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    attempts: int = 0

    def delay(self, attempt: int) -> float:
        return min(self.initial * self.factor ** (attempt - 1), self.maximum)


def with_retries(
    call: Callable[[], T],
    what: str,
    rpc_url: str,
    backoff: Backoff,
    on_retry: Callable[[], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> T:
    """`call()`, retried on transient RPC failures; raises RpcUnavailable when attempts run out
    (or `should_stop()` turns true while waiting)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            result = call()
        except TRANSIENT as exc:
            if (backoff.attempts and attempt >= backoff.attempts) or should_stop():
                raise RpcUnavailable(
                    f"RPC {rpc_url} unavailable for {what} after {attempt} attempts: "
                    f"{type(exc).__name__}"
                ) from exc
            delay = backoff.delay(attempt)
            log.warning(
                "RPC %s failed during %s (%s); retry %d in %.1fs",
                rpc_url,
                what,
                type(exc).__name__,
                attempt,
                delay,
            )
            if on_retry:
                on_retry()
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.1, delay))
            continue
        if attempt > 1:
            log.info("RPC %s is back: %s succeeded after %d attempts", rpc_url, what, attempt)
        return result
