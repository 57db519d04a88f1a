"""A local anvil chain on a free loopback port, started and stopped by Proofcast."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from web3 import Web3

from oracle.chain.toolchain import anvil_binary
from oracle.childlog import log_tail
from oracle.errors import ChainError

log = logging.getLogger(__name__)

ANVIL_CHAIN_ID = 31337
# anvil's first well-known development account; publicly known, for local chains only.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AnvilNode:
    """Context manager running `anvil` on loopback with EIP-170 enforced (anvil's default)."""

    def __init__(
        self,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
        chain_id: int = ANVIL_CHAIN_ID,
        steps_tracing: bool = False,
        timestamp: int | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.steps_tracing = steps_tracing  # opcode traces for debug_traceTransaction
        self.timestamp = timestamp  # the genesis block's time (a chain that starts in the past)
        self.port = free_loopback_port()
        self.rpc_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AnvilNode:
        """Start anvil and wait until its RPC answers."""
        log_file = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        cmd = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", "3",
            *(["--steps-tracing"] if self.steps_tracing else []),
            *(["--timestamp", str(self.timestamp)] if self.timestamp is not None else []),
        ]  # fmt: skip
        self._proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
        if not isinstance(log_file, int):
            log_file.close()  # the child holds its own descriptor
        w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ChainError(
                    f"anvil exited with code {self._proc.returncode} "
                    f"before answering on {self.rpc_url}{self._log_excerpt()}"
                )
            try:
                if w3.eth.chain_id == self.chain_id:
                    log.info("anvil up at %s", self.rpc_url)
                    return self
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise ChainError(
            f"anvil did not answer on {self.rpc_url} within {self.startup_timeout:.0f}s"
            f"{self._log_excerpt()}"
        )

    def _log_excerpt(self) -> str:
        if self.log_path is None:
            return ""
        return f"; last lines of {self.log_path}:\n{log_tail(self.log_path)}"

    def stop(self) -> None:
        """Stop anvil (SIGTERM, then SIGKILL after 5 s)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
