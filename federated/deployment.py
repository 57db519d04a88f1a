"""A local federation on Flower's Deployment Engine: one SuperLink, N SuperNodes, one run.

Every process listens on 127.0.0.1 only, on ports picked free at start, and runs in its own
process group so that stopping it also stops the ServerApp/ClientApp subprocesses it spawned.
Each SuperNode gets its own provider's data spec in its node config (`data="..."`), exactly as
a real provider would on its own machine. `flwr run` is pointed at the SuperLink through a
private FLWR_HOME, so nothing outside the work directory is read or written.

Locally everything is `--insecure`; how a real provider joins over TLS with node authentication
is in the README ("Federated training").
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONNECTION = "proofcast-local"


class DeploymentError(RuntimeError):
    """A federation process failed to start, exited early, or the run failed."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _wait_for_port(port: int, proc: subprocess.Popen, name: str, log_path: Path, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DeploymentError(f"{name} exited with {proc.returncode}; log: {log_path}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise DeploymentError(f"{name} did not listen on 127.0.0.1:{port} in {timeout:.0f} s")


def _descendants(pids: set[int]) -> set[int]:
    """All live descendants of `pids` (Linux /proc; detached children included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = list(pids)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _env(home: Path) -> dict[str, str]:
    """Environment for a Flower process: its own FLWR_HOME, this venv's scripts first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return {
        **os.environ,
        "FLWR_HOME": str(home),
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        # Never `uv sync` the app's dependencies at run time: they are installed already.
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "PATH": path,
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _config_args(config: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_toml_value(v)}" for k, v in config.items())


@dataclass
class LocalFederation:
    """The running processes of a local Deployment-Engine federation."""

    workdir: Path
    superlink_port: int
    processes: list[tuple[str, subprocess.Popen, Path]] = field(default_factory=list)

    @property
    def cli_home(self) -> Path:
        """FLWR_HOME for `flwr run` (holds the SuperLink connection)."""
        return self.workdir / "cli-home"

    def _spawn(self, name: str, cmd: list[str], home: Path) -> subprocess.Popen:
        home.mkdir(parents=True, exist_ok=True)
        log_path = self.workdir / f"{name}.log"
        env = _env(home)
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        self.processes.append((name, proc, log_path))
        return proc

    def start_superlink(self) -> None:
        """Start the SuperLink and wait until its API port accepts connections."""
        cmd = [
            _bin("flower-superlink"), "--insecure", "--isolation", "subprocess",
            "--host", "127.0.0.1", "--port", str(self.superlink_port),
            "--disable-runtime-dependency-installation",
        ]  # fmt: skip
        proc = self._spawn("superlink", cmd, self.workdir / "superlink-home")
        _wait_for_port(
            self.superlink_port, proc, "flower-superlink", self.workdir / "superlink.log", 60
        )
        self.cli_home.mkdir(parents=True, exist_ok=True)
        (self.cli_home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "127.0.0.1:{self.superlink_port}"\ninsecure = true\n'
        )

    def start_supernode(self, index: int, data_spec: str) -> None:
        """Start SuperNode `index` holding the provider data named by `data_spec`."""
        port = free_port()
        receipt = self.workdir / f"supernode-{index}-receipt.json"  # the provider's own record
        node_config = _config_args(
            {"partition-id": index, "data": data_spec, "receipt": str(receipt)}
        )
        cmd = [
            _bin("flower-supernode"), "--insecure",
            "--superlink", f"127.0.0.1:{self.superlink_port}",
            "--host", "127.0.0.1", "--port", str(port),
            "--isolation", "subprocess", "--node-config", node_config,
        ]  # fmt: skip
        proc = self._spawn(f"supernode-{index}", cmd, self.workdir / f"supernode-{index}-home")
        _wait_for_port(
            port, proc, f"flower-supernode {index}", self.workdir / f"supernode-{index}.log", 60
        )

    def run_app(self, run_config: Mapping[str, Any], timeout: float) -> str:
        """`flwr run` the project on this federation and stream its logs; returns the output."""
        cmd = [_bin("flwr"), "run", str(PROJECT_ROOT), CONNECTION, "--stream"]
        if run_config:
            cmd += ["--run-config", _config_args(run_config)]
        env = _env(self.cli_home)
        log.info("running: %s", shlex.join(cmd))
        try:
            done = subprocess.run(
                cmd,
                env=env,
                cwd=self.workdir,
                capture_output=True,
                text=True,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            raise DeploymentError(f"flwr run did not finish in {timeout:.0f} s") from exc
        output = done.stdout + done.stderr
        (self.workdir / "flwr-run.log").write_text(output)
        if done.returncode != 0:
            raise DeploymentError(f"flwr run exited {done.returncode}:\n{output[-3000:]}")
        return output

    def all_pids(self) -> set[int]:
        """The started processes and every live descendant (app subprocesses, SuperExec)."""
        roots = {proc.pid for _name, proc, _log in self.processes}
        return roots | _descendants(roots)

    def stop(self, grace: float = 10.0) -> None:
        """Stop every process and its descendants (SIGTERM, then SIGKILL after `grace` s)."""
        tree = self.all_pids()
        for _name, proc, _log in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _name, proc, _log in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _name, proc, _log in self.processes:
            # The group may hold app subprocesses even after the leader exited.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for pid in tree | _descendants(tree):
            # Detached grandchildren (own session) outlive their group: end them by pid.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def local_federation(workdir: Path, data_specs: Sequence[str]) -> Iterator[LocalFederation]:
    """Start a SuperLink and one SuperNode per data spec; always stop them all on exit."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    fed = LocalFederation(workdir, free_port())
    try:
        fed.start_superlink()
        for i, spec in enumerate(data_specs):
            fed.start_supernode(i, spec)
        yield fed
    finally:
        fed.stop()


def run_deployment(
    workdir: Path,
    data_specs: Sequence[str],
    run_config: Mapping[str, Any] | None = None,
    timeout: float = 900.0,
) -> Path:
    """Start a local federation, run the app on it, stop everything; returns the output dir."""
    workdir = Path(workdir).resolve()
    config = dict(run_config or {})
    config.setdefault("output-dir", str(workdir / "federated"))
    config.setdefault("expected-nodes", len(data_specs))
    with local_federation(workdir, data_specs) as fed:
        fed.run_app(config, timeout)
    return Path(config["output-dir"])
