"""The artifact manifest pins the circuit's files; a mismatched set is refused."""

import json
from pathlib import Path

import pytest

from circuits.artifacts import CircuitArtifacts
from circuits.manifest import SRS_LOCAL, ArtifactMismatchError, CircuitManifest, check_manifest
from oracle.selftest import SelftestReport


@pytest.fixture(scope="module")
def artifacts(selftest_run: tuple[Path, SelftestReport]) -> CircuitArtifacts:
    return CircuitArtifacts(selftest_run[0] / "circuit")


def _linked_copy(src: CircuitArtifacts, dest: Path) -> CircuitArtifacts:
    """A circuit directory of symlinks to `src`'s files (cheap: the proving key is large)."""
    dest.mkdir()
    for path in src.root.iterdir():
        if path.is_file():
            (dest / path.name).symlink_to(path)
    return CircuitArtifacts(dest)


def _replace(path: Path, text: str) -> None:
    path.unlink()
    path.write_text(text)


@pytest.mark.slow
def test_manifest_matches_fresh_build(artifacts: CircuitArtifacts) -> None:
    manifest = check_manifest(artifacts)
    assert manifest.srs_source == SRS_LOCAL
    assert manifest.param_scale == 13
    assert manifest.instance_layout().num_instances == 4
    assert manifest.logrows >= 10


@pytest.mark.slow
def test_changed_settings_are_refused(artifacts: CircuitArtifacts, tmp_path: Path) -> None:
    copy = _linked_copy(artifacts, tmp_path / "c")
    settings = json.loads(artifacts.settings.read_text())
    settings["run_args"]["logrows"] += 1
    _replace(copy.settings, json.dumps(settings))
    with pytest.raises(ArtifactMismatchError, match=r"settings\.json"):
        check_manifest(copy)


@pytest.mark.slow
def test_other_ezkl_version_is_refused(artifacts: CircuitArtifacts, tmp_path: Path) -> None:
    copy = _linked_copy(artifacts, tmp_path / "c")
    data = json.loads(artifacts.manifest.read_text()) | {"ezkl_version": "0.0.1"}
    _replace(copy.manifest, json.dumps(data))
    with pytest.raises(ArtifactMismatchError, match=r"ezkl 0\.0\.1"):
        check_manifest(copy)


@pytest.mark.slow
def test_missing_proving_key_is_refused(artifacts: CircuitArtifacts, tmp_path: Path) -> None:
    copy = _linked_copy(artifacts, tmp_path / "c")
    copy.pk.unlink()
    with pytest.raises(ArtifactMismatchError, match=r"pk\.key is missing"):
        check_manifest(copy)


def test_missing_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactMismatchError, match="no artifact manifest"):
        CircuitManifest.read(tmp_path / "manifest.json")
