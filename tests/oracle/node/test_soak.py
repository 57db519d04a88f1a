"""A short soak (the benchmark runs 30 days): a real `proofcast node run` process through a few
simulated days on a time-warped anvil with a kill -9 mid-round, a fee spike after signing and a
corrupt bar: nothing lost, nothing duplicated, the restarted node bumps its fees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oracle.node.soak import run_soak

pytestmark = pytest.mark.slow


def test_short_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    plan = ["none", "kill", "corrupt_bar", "fee_spike"]
    report = run_soak(tmp_path / "results", tmp_path / "work", plan=plan, keep_rounds=2)
    assert report.days == 4 and report.due == 8
    assert report.lost == 0 and report.duplicated == 0
    assert report.excused == 1  # the corrupt bar's feed that day; the other feed published
    assert report.published == 7
    corrupt = report.day_log[2]
    assert corrupt.published == ["aapl"] and corrupt.excused == ["sp500"]
    assert report.fee_bumps >= 1  # the restarted node replaced the underpriced transaction
    assert report.worst_staleness_unexcused_s <= report.staleness_target_s
    saved = json.loads((tmp_path / "results" / "node_soak.json").read_text())
    assert saved["lost"] == 0 and (tmp_path / "results" / "node_soak_staleness.png").is_file()
