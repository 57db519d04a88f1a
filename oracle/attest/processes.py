"""Start attesters as separate `proofcast attest serve` processes (the demo and the tests).

Each attester gets its own directory: config, encrypted keystore and its own copy of the data.
The keystore password goes through the environment, the key never through argv.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from oracle.chain.anvil import free_loopback_port
from oracle.childlog import log_tail, start_timeout
from oracle.node.keys import PASSWORD_ENV, SigningKey, write_keystore

# Seconds an attester may take to answer /v1/health on an idle machine (a start imports torch
# and EZKL and decrypts a scrypt keystore); scaled by `oracle.childlog.machine_factor`, or
# exactly $PROOFCAST_ATTESTER_START_TIMEOUT when set.
START_TIMEOUT_ENV = "PROOFCAST_ATTESTER_START_TIMEOUT"
START_TIMEOUT = 180.0


@dataclass(frozen=True)
class AttesterSpec:
    """One attester to start: its data directory and the feeds (name -> file) it attests."""

    directory: Path  # holds config.toml, keystore.json, and the data under data/
    feeds: dict[str, str]
    tolerance_bps: float = 10.0
    key: SigningKey = field(default_factory=lambda: SigningKey("0x" + secrets.token_hex(32)))

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def address(self) -> str:
        return self.key.address


def write_attester(
    spec: AttesterSpec,
    chain_id: int,
    oracle: str,
    circuit_dir: Path,
    password: str,
    rpc_url: str | None = None,
    attesters: Sequence[str] = (),
    threshold: int = 0,
) -> Path:
    """Write `spec`'s keystore and config.toml; returns the config path. The attester reads
    K and the scales from `circuit_dir` (the node's circuit). With `rpc_url` the
    attester reads the oracle's configVersion and attester set, and signs only for those;
    without, `attesters` and `threshold` name whose observations count."""
    spec.directory.mkdir(parents=True, exist_ok=True)
    write_keystore(spec.key, spec.directory / "keystore.json", password)
    feeds = "".join(
        f'\n[[feeds]]\nname = "{name}"\nfile = "{file}"\n' for name, file in spec.feeds.items()
    )
    config = spec.directory / "config.toml"
    config.write_text(
        "[attester]\n"
        f"chain_id = {chain_id}\n"
        f'oracle_address = "{oracle}"\n'
        'keystore = "keystore.json"\n'
        f"circuit_dir = {json.dumps(str(Path(circuit_dir).resolve()))}\n"
        + (f'rpc_url = "{rpc_url}"\n' if rpc_url else "")
        + (f"attesters = [{', '.join(repr(a) for a in attesters)}]\n" if attesters else "")
        + (f"threshold = {threshold}\n" if threshold else "")
        + f"tolerance_bps = {spec.tolerance_bps}\n"
        "\n[source]\n"
        'directory = "data"\n' + feeds
    )
    return config


class AttesterProcesses:
    """`proofcast attest serve` for each config, on free loopback ports; stopped on exit."""

    def __init__(
        self,
        configs: Sequence[Path],
        password: str,
        log_dir: Path,
        ready_timeout: float | None = None,
    ) -> None:
        self.configs = list(configs)
        self.password = password
        self.log_dir = log_dir
        # seconds each process may take to answer /v1/health (None: see `wait_ready`)
        self.ready_timeout = ready_timeout
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []

    def log_path(self, i: int) -> Path:
        """Where attester i's stdout and stderr go."""
        return self.log_dir / f"attester-{i + 1}.log"

    def __enter__(self) -> AttesterProcesses:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # unbuffered: the log holds everything up to the moment a wait gives up
        env = {**os.environ, PASSWORD_ENV: self.password, "PYTHONUNBUFFERED": "1"}
        env.pop("PROOFCAST_PRIVATE_KEY", None)
        try:
            for i, config in enumerate(self.configs):
                port = free_loopback_port()
                cmd = [sys.executable, "-u", "-m", "oracle.cli", "attest", "serve", "-c",
                       str(config), "--port", str(port)]  # fmt: skip
                with self.log_path(i).open("wb") as log:
                    log.write(f"$ {' '.join(cmd)}\n".encode())
                    log.flush()
                    self.procs.append(
                        subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
                    )
                self.urls.append(f"http://127.0.0.1:{port}")
            timeout = self.ready_timeout
            if timeout is None:
                timeout = start_timeout(START_TIMEOUT_ENV, START_TIMEOUT, len(self.procs))
            for i, url in enumerate(self.urls):
                self.wait_ready(i, url, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, i: int, url: str, timeout: float | None = None) -> None:
        """Wait for attester i's /v1/health; the limit is $PROOFCAST_ATTESTER_START_TIMEOUT
        seconds, else START_TIMEOUT scaled to the machine's load and the processes starting.
        A failure names the log file and shows its last lines."""
        if timeout is None:
            timeout = start_timeout(START_TIMEOUT_ENV, START_TIMEOUT, len(self.procs))
        path = self.log_path(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.procs[i].poll()
            if code is not None:
                raise RuntimeError(
                    f"attester {i + 1} exited with code {code} before answering on {url}; "
                    f"last lines of {path}:\n{log_tail(path)}"
                )
            try:
                if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"attester {i + 1} not ready at {url} after {timeout:.0f} s (set "
            f"{START_TIMEOUT_ENV} to wait longer); last lines of {path}:\n{log_tail(path)}"
        )

    def kill(self, i: int) -> None:
        """Stop attester i (an attester going offline)."""
        self.procs[i].terminate()
        self.procs[i].wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def __exit__(self, *exc: object) -> None:
        self.stop()
