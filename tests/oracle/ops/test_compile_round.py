"""`proofcast circuit compile-round`: a federated round directory (as `train` writes it) becomes
a circuit whose model hash is the manifest's `oracle_model_hash`; compiled again into that
circuit, the round's weights go under models/round-NNN; a round whose weights do not match its
manifest is refused in one line, before any EZKL step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from circuits.manifest import CircuitManifest
from federated.manifest import save_round
from models.data import load_bundled
from models.features import build_features
from models.risk import RiskModel
from models.volatility import VolatilityModel
from oracle.cli import app

runner = CliRunner()


def write_round(root: Path, number: int = 3) -> Path:
    """A federated round as `train` saves it: both networks on one set of pooled statistics
    (as every round has), seeded weights (tests/circuits/test_rows.py's recipe)."""
    X = build_features(load_bundled("sp500")).X[:400]
    nets = {"volatility": VolatilityModel(), "risk": RiskModel()}
    rng = torch.Generator().manual_seed(number)
    for net in nets.values():
        net.set_normalisation(X, y_shift=0.1, y_scale=0.5)
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=rng) * 0.3)
    save_round(root, number, nets, participants=["a", "b"], failures=0,
               aggregation="fedavg", secagg=False, dp={}, metrics={"qlike": 0.4})  # fmt: skip
    return root / f"round-{number:03d}"


def test_a_round_whose_weights_do_not_match_its_manifest_is_refused(tmp_path: Path) -> None:
    round_dir = write_round(tmp_path / "federated")
    manifest = json.loads((round_dir / "manifest.json").read_text())
    manifest["oracle_model_hash"] = "0x" + "12" * 32
    (round_dir / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "circuit"
    args = ["circuit", "compile-round", str(round_dir), "--feeds", "sp500", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert f"{round_dir}: the round's networks hash to 0x" in line
    assert "its manifest says oracle_model_hash 0x1212" in line
    assert not out.exists()
    missing = runner.invoke(app, ["circuit", "compile-round", str(tmp_path), "--feeds", "sp500"])
    assert missing.exit_code == 1 and "no manifest.json" in missing.output


@pytest.mark.slow
def test_compile_round_builds_the_circuit_then_compiles_later_weights_into_it(
    tmp_path: Path,
) -> None:
    round_dir = write_round(tmp_path / "federated")
    out = tmp_path / "circuit"
    args = ["circuit", "compile-round", str(round_dir), "--feeds", "sp500", "--out", str(out)]
    built = runner.invoke(app, args)
    assert built.exit_code == 0, built.output
    manifest = json.loads((round_dir / "manifest.json").read_text())
    circuit = CircuitManifest.read(out / "manifest.json")
    assert circuit.model_hash == manifest["oracle_model_hash"]
    assert circuit.layout["output_names"] == ["log_vol_pct", "var99_pct"]
    assert (out / "Halo2Verifier.sol").is_file()

    later = write_round(tmp_path / "federated", 4)
    again = runner.invoke(
        app, ["circuit", "compile-round", str(later), "--feeds", "sp500", "--out", str(out)]
    )
    assert again.exit_code == 0, again.output
    assert 'node.model = "round-004"' in again.output
    assert (out / "models" / "round-004" / "network.ezkl").is_file()
