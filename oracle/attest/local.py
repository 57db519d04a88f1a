"""In-process attesters (tests, benchmarks): the real FastAPI app served by uvicorn on loopback
threads (real HTTP, real checks, real keys). The demo runs them as processes (processes.py)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from eth_account import Account

from oracle.attest.checks import Checker, CheckPolicy
from oracle.attest.server import BackgroundServer, create_app
from oracle.node.config import FeedConfig
from oracle.node.keys import SigningKey
from oracle.node.sources import CsvDirectorySource


def attester_keys(n: int) -> list[SigningKey]:
    return [SigningKey("0x" + bytes(Account.create().key).hex()) for _ in range(n)]


class LocalAttesters:
    """One attester per entry of `data_dirs` (its own copy of the data), all for `oracle`.

    Observations count from the policy's attesters (default: these attesters' keys) with the
    policy's threshold (default: `threshold`), as the oracle would have them."""

    def __init__(
        self,
        data_dirs: Sequence[Path],
        policy: CheckPolicy,
        feeds: Sequence[str],
        calendar: str = "daily",
        keys: Sequence[SigningKey] | None = None,
        threshold: int = 2,
    ) -> None:
        self.keys = list(keys) if keys is not None else attester_keys(len(data_dirs))
        policy = replace(
            policy,
            attesters=policy.attesters or tuple(k.address for k in self.keys),
            threshold=policy.threshold or threshold,
        )
        feed_configs = tuple(FeedConfig(f, f"{f}.csv", max_move_sigmas=0) for f in feeds)
        self.checkers = [
            Checker(policy, feed_configs, CsvDirectorySource(d, calendar=calendar))
            for d in data_dirs
        ]
        self.servers = [
            BackgroundServer(create_app(c, k))
            for c, k in zip(self.checkers, self.keys, strict=True)
        ]
        self._stack = ExitStack()

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    @property
    def addresses(self) -> list[str]:
        return [k.address for k in self.keys]

    def stop(self, i: int) -> None:
        """Attester i goes offline."""
        self.servers[i].stop()

    def __enter__(self) -> LocalAttesters:
        for server in self.servers:
            self._stack.enter_context(server)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
