"""torch -> ONNX export, checked against onnxruntime on every export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from circuits.errors import OnnxParityError

OPSET = 18  # the newest opset EZKL's tract backend is tested against
PARITY_ATOL = 1e-5


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export `model` (in eval mode) to ONNX at `path`, with a dynamic batch axis."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["input"],
        output_names=["output"],
        opset_version=OPSET,
        dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
        dynamo=False,
    )
    return path


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
