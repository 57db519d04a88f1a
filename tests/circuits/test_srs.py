from pathlib import Path

import pytest

from circuits.errors import SrsError
from circuits.srs import is_testing_srs, min_srs_bytes, prepare_srs


def test_local_srs_is_marked_testing_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    srs = prepare_srs(tmp_path / "k4.srs", logrows=4)
    assert srs.stat().st_size >= min_srs_bytes(4)
    assert is_testing_srs(srs)
    assert "TESTING ONLY" in caplog.text


def test_ceremony_srs_is_copied_and_unmarked(tmp_path: Path) -> None:
    ceremony = prepare_srs(tmp_path / "ceremony.srs", logrows=5)  # stands in for a ceremony file
    dest = prepare_srs(tmp_path / "circuit" / "kzg.srs", logrows=4, ceremony=ceremony)
    assert dest.read_bytes() == ceremony.read_bytes()
    assert not is_testing_srs(dest)


def test_ceremony_srs_too_small_is_refused(tmp_path: Path) -> None:
    small = prepare_srs(tmp_path / "small.srs", logrows=4)
    dest = tmp_path / "kzg.srs"
    with pytest.raises(SrsError, match=r"small\.srs"):
        prepare_srs(dest, logrows=10, ceremony=small)
    assert not dest.exists()


def test_missing_ceremony_srs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SrsError, match="not found"):
        prepare_srs(tmp_path / "kzg.srs", logrows=4, ceremony=tmp_path / "nope.srs")
