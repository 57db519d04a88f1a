"""ONNX parity: the exported graph must reproduce the torch model (checked on every export)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from circuits.errors import OnnxParityError
from models.export import export_onnx

__all__ = ["PARITY_ATOL", "export_onnx", "onnx_parity"]

PARITY_ATOL = 1e-5


def onnx_parity(model: torch.nn.Module, path: Path, inputs: torch.Tensor) -> float:
    """Max absolute difference between torch and onnxruntime outputs on `inputs`.

    Raises OnnxParityError when it exceeds PARITY_ATOL.
    """
    with torch.no_grad():
        expected = model.eval()(inputs).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"input": inputs.numpy().astype(np.float32)})
    diff = float(np.max(np.abs(actual - expected)))
    if not diff <= PARITY_ATOL:
        raise OnnxParityError(
            f"{path}: onnxruntime differs from torch by {diff:.3g} (> {PARITY_ATOL:g})"
        )
    return diff
