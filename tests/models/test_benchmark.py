import json
from pathlib import Path

import pytest

from models.benchmark import check_targets, run_models_benchmark


def result(qlike: dict[str, float], kupiec_p: float) -> dict:
    return {
        "volatility": {k: {"qlike": v} for k, v in qlike.items()},
        "var": {"risk-mlp": {"kupiec_p": kupiec_p}},
    }


def test_check_targets_pass_fail_and_margins() -> None:
    good = check_targets(
        result({"vol-mlp": 0.9, "garch": 1.0, "ewma": 1.2, "har-rv": 0.9}, kupiec_p=0.3)
    )
    assert all(t["pass"] for t in good.values())
    assert good["qlike_better_than_garch"]["rel_diff"] == pytest.approx(-0.1)
    bad = check_targets(
        result({"vol-mlp": 1.1, "garch": 1.0, "ewma": 1.2, "har-rv": 1.0}, kupiec_p=0.01)
    )
    assert not bad["qlike_better_than_garch"]["pass"]
    assert bad["qlike_better_than_garch"]["rel_diff"] == pytest.approx(0.1)  # missed by 10 %
    assert bad["qlike_better_than_ewma"]["pass"]
    assert not bad["qlike_no_worse_than_har-rv"]["pass"]
    assert not bad["var_kupiec_5pct"]["pass"]


def test_benchmark_writes_report_and_plots(tmp_path: Path) -> None:
    report = run_models_benchmark(tmp_path, ["stress"], min_train=1500, refit_every=1000, epochs=20)
    stored = json.loads((tmp_path / "models.json").read_text())
    assert stored["series"]["stress"]["refits"] == 1 == report["series"]["stress"]["refits"]
    md = (tmp_path / "models.md").read_text()
    assert "## stress" in md and "| garch |" in md and "Kupiec" in md
    for png in report["series"]["stress"]["plots"].values():
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError, match="unknown series"):
        run_models_benchmark(tmp_path, ["nasdaq"])
