"""Shared fixtures: one real end-to-end run (EZKL + anvil + solc-js) reused by several tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle.selftest import SelftestReport, run_selftest


@pytest.fixture(scope="session")
def selftest_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SelftestReport]:
    """Run the whole foundation pipeline once: (workdir, report)."""
    workdir = tmp_path_factory.mktemp("pipeline")
    return workdir, run_selftest(workdir)
