"""A circuit directory's manifest.json and settings.json as `build_circuit` writes them, for the
attester tests that need only what an attester reads (K and the scales), not keys or an SRS."""

from __future__ import annotations

import json
from pathlib import Path

from circuits.artifacts import CircuitArtifacts
from circuits.layout import InstanceLayout
from circuits.manifest import CircuitManifest, sha256_file


def write_circuit(root: Path, slots: int, input_scale: int, output_scale: int = 13) -> Path:
    """`root` holding settings.json and the manifest pinning it; returns `root`."""
    artifacts = CircuitArtifacts(root)
    root.mkdir(parents=True, exist_ok=True)
    settings = {"run_args": {"input_scale": input_scale, "param_scale": input_scale}}
    artifacts.settings.write_text(json.dumps(settings))
    layout = InstanceLayout(slots, 2, output_scale, ("logvol", "var"))
    CircuitManifest(
        ezkl_version="test",
        architecture="test",
        num_features=4,
        logrows=17,
        input_scale=input_scale,
        param_scale=input_scale,
        output_scale=output_scale,
        settings_sha256=sha256_file(artifacts.settings),
        vk_sha256="",
        verifier_sha256="",
        srs_source="test",
        srs_sha256="",
        model_hash="0x" + "00" * 32,
        layout=json.loads(layout.to_json()),
    ).write(artifacts.manifest)
    return root
