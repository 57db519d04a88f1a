"""Shared fixtures: one real end-to-end run (EZKL + anvil + solc-js) reused by several tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle.pipeline import PipelineReport, run_pipeline


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PipelineReport]:
    """Run the whole foundation pipeline once: (workdir, report)."""
    workdir = tmp_path_factory.mktemp("pipeline")
    return workdir, run_pipeline(workdir)
