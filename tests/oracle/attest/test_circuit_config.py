"""Attesters read K and the scales from the circuit, not from their TOML: a value written there
must agree with the circuit (else one startup line naming both values and the file), `/v1/health`
shows them, and the node asks only attesters whose health matches its own circuit. `attest
serve` also refuses to start on missing or unreadable feed files. Real config files, the real
`proofcast attest serve` process and real HTTP servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from oracle.attest.client import AttesterClient
from oracle.attest.config import load_attester_config
from oracle.attest.processes import AttesterProcesses, AttesterSpec, write_attester
from oracle.attest.server import BackgroundServer, create_app
from oracle.node.errors import ConfigError
from oracle.node.keys import PASSWORD_ENV
from tests.oracle.attest.circuit_files import write_circuit
from tests.oracle.attest.test_checks import (
    CHAIN,
    END,
    FEEDS,
    KEYS,
    ORACLE,
    SCALE,
    SET,
    checker,
    propose,
)
from tests.oracle.node.market import write_candles

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    out = tmp_path / "market"
    out.mkdir()
    for seed, name in enumerate(FEEDS):
        write_candles(out / f"{name}.csv", END, days=40, seed=seed)
    return out


def attester(tmp_path: Path, data: Path, circuit: Path, extra: str = "") -> Path:
    """An attester directory with its own copy of `data` and a config for `circuit`, with
    `extra` lines added to its [attester] table."""
    spec = AttesterSpec(tmp_path / "attester", {n: f"{n}.csv" for n in FEEDS}, key=KEYS[0])
    shutil.copytree(data, spec.data_dir)
    config = write_attester(spec, CHAIN, ORACLE, circuit, "pw", attesters=SET, threshold=2)
    if extra:
        text = config.read_text().replace("[attester]\n", f"[attester]\n{extra}\n", 1)
        config.write_text(text)
    return config


def serve(config: Path) -> subprocess.CompletedProcess[str]:
    """`proofcast attest serve` expected to refuse at startup (a live one is killed at 120 s)."""
    env = {**os.environ, PASSWORD_ENV: "pw", "PYTHONPATH": str(REPO), "COLUMNS": "400"}
    cmd = [sys.executable, "-m", "oracle.cli", "attest", "serve", "-c", str(config)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_slots_and_scales_come_from_the_circuit(tmp_path: Path, data: Path) -> None:
    circuit = write_circuit(tmp_path / "circuit", slots=2, input_scale=11, output_scale=12)
    cfg = load_attester_config(attester(tmp_path, data, circuit))
    assert "input_scale" not in (tmp_path / "attester" / "config.toml").read_text()
    assert (cfg.policy.slots, cfg.policy.input_scale, cfg.policy.output_scale) == (2, 11, 12)
    assert cfg.circuit_dir == circuit.resolve()


@pytest.mark.parametrize(
    ("line", "key", "written", "actual"),
    [
        ("input_scale = 7", "input_scale", 7, 13),  # the README's old example
        ("slots = 4", "slots", 4, 2),
        ("output_scale = 10", "output_scale", 10, 13),
    ],
)
def test_a_value_that_disagrees_with_the_circuit_is_refused_naming_both(
    tmp_path: Path, data: Path, line: str, key: str, written: int, actual: int
) -> None:
    circuit = write_circuit(tmp_path / "circuit", slots=2, input_scale=13)
    config = attester(tmp_path, data, circuit, extra=line)
    with pytest.raises(ConfigError) as info:
        load_attester_config(config)
    message = str(info.value)
    assert str(config) in message and str(circuit / "manifest.json") in message
    assert f"attester.{key} = {written}" in message and f"has {key} {actual}" in message
    agreeing = attester(tmp_path / "ok", data, circuit, extra=f"{key} = {actual}")
    assert getattr(load_attester_config(agreeing).policy, key) == actual


def test_a_missing_or_altered_circuit_is_refused_naming_the_file(
    tmp_path: Path, data: Path
) -> None:
    circuit = tmp_path / "circuit"
    config = attester(tmp_path, data, circuit)
    with pytest.raises(ConfigError, match=f"no artifact manifest at {circuit / 'manifest.json'}"):
        load_attester_config(config)
    write_circuit(circuit, slots=2, input_scale=13)
    (circuit / "settings.json").write_text(json.dumps({"run_args": {"input_scale": 7}}))
    with pytest.raises(ConfigError, match=r"settings\.json has sha256 .*manifest\.json pins"):
        load_attester_config(config)
    (circuit / "manifest.json").write_text("{")
    with pytest.raises(ConfigError, match="unreadable artifact manifest"):
        load_attester_config(config)


def test_attest_serve_refuses_a_mismatch_and_bad_feed_files_in_one_line(
    tmp_path: Path, data: Path
) -> None:
    circuit = write_circuit(tmp_path / "circuit", slots=2, input_scale=13)
    config = attester(tmp_path, data, circuit, extra="input_scale = 7")
    cases: list[tuple[str, str]] = [("input_scale = 7", "has input_scale 13")]
    results = [serve(config)]
    config.write_text(config.read_text().replace("input_scale = 7\n", ""))
    eth = tmp_path / "attester" / "data" / "ETH-USD.csv"
    eth.unlink()
    cases.append((f"market-data file {eth} does not exist", "feed ETH-USD"))
    results.append(serve(config))
    eth.write_bytes(b"\x00\x01garbage\xff" * 10)
    cases.append((str(eth), "NUL bytes"))
    results.append(serve(config))
    eth.write_text("date,open,high,low,close\n2026-01-01,1,2,1,9\n")
    cases.append((f"{eth}, line 2", "close outside"))
    results.append(serve(config))
    for (first, second), result in zip(cases, results, strict=True):
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ") and first in lines[0] and second in lines[0]
        assert "Traceback" not in result.stderr + result.stdout


def test_health_shows_the_circuit_and_the_node_asks_only_matching_attesters(
    tmp_path: Path, data: Path
) -> None:
    """The real process's health; then the node's client against a real server on K=2, input
    scale SCALE: a node on another circuit gets one error naming the URL and both values, and
    the attester is not asked (no signature, no refusal); the matching node is signed."""
    circuit = write_circuit(tmp_path / "circuit", slots=2, input_scale=11, output_scale=12)
    config = attester(tmp_path, data, circuit)
    with AttesterProcesses([config], "pw", tmp_path / "logs") as procs:
        health = httpx.get(f"{procs.urls[0]}/v1/health", timeout=10).json()
    assert (health["slots"], health["input_scale"], health["output_scale"]) == (2, 11, 12)
    assert health["signer"] == KEYS[0].address and health["feeds"] == sorted(FEEDS)

    proposal = propose(data)
    ours = {"slots": 2, "input_scale": SCALE, "output_scale": 13}
    with BackgroundServer(create_app(checker(data), KEYS[0])) as server:
        client = AttesterClient([server.url], timeout=10)
        other = client.collect(proposal, 1, SET, circuit={**ours, "input_scale": 13})
        (reply,) = other.replies
        assert not reply.signed and not reply.refusals
        assert reply.error == (
            f"circuit mismatch: attester {server.url} has input_scale {SCALE} "
            "(this node's circuit: 13); not asked to sign"
        )
        assert server.url in other.describe()[0]
        matching = client.collect(proposal, 1, SET, circuit=ours)
        assert matching.reached and matching.signers == (KEYS[0].address,)
