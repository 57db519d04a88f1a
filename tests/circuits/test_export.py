from pathlib import Path

import pytest

from circuits.errors import OnnxParityError
from circuits.export import export_onnx, onnx_parity
from models.placeholder import make_placeholder_model, sample_features


def test_onnx_matches_torch(tmp_path: Path) -> None:
    model = make_placeholder_model()
    path = export_onnx(model, sample_features(1), tmp_path / "m.onnx")
    assert onnx_parity(model, path, sample_features(32)) <= 1e-5


def test_parity_error_names_file_when_graph_differs(tmp_path: Path) -> None:
    path = export_onnx(make_placeholder_model(0), sample_features(1), tmp_path / "m.onnx")
    with pytest.raises(OnnxParityError, match=r"m\.onnx"):
        onnx_parity(make_placeholder_model(1), path, sample_features(8))
