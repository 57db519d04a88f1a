"""torch -> ONNX: the graph that is proven, and from which a model's identity is read.

It lives with the models (upstream of federated training and circuits) because the model hash
is defined on this graph: federated manifests and circuits must see the same export.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import onnx
import torch

OPSET = 18  # the newest opset EZKL's tract backend is tested against


def input_width(model: torch.nn.Module) -> int:
    """Number of input features: `model.n_features`, else the first Linear's in_features."""
    width = getattr(model, "n_features", None)
    if isinstance(width, int):
        return width
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            return module.in_features
    raise ValueError(f"cannot tell the input width of {type(model).__name__}")


def provable_graph(model: torch.nn.Module) -> torch.nn.Module:
    """The module whose graph is exported: `model.provable()` when the model defines one (an
    equal function rewritten for fewer circuit rows, `models.network.ProvableHeads`), else
    the model itself."""
    provable = getattr(model, "provable", None)
    return (provable() if callable(provable) else model).eval()


class AsTrained(torch.nn.Module):
    """`model` exported as written, without its `provable` rewrite (a benchmark baseline)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.n_features = input_width(model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# The TorchScript exporter is deprecated in favour of the torch.export-based one (dynamo=True),
# which needs onnxscript (not installed) and emits a different graph (decomposed ops, other
# opsets) than the one the registered model hashes, EZKL's circuits and their calibration are
# defined on and were checked against; until that switch is made and measured, the legacy
# exporter's two deprecation notices are silenced here, and only here.
_LEGACY_EXPORTER_NOTICES = (
    "You are using the legacy TorchScript-based ONNX export",
    "The feature will be removed",
)


def _export(model: torch.nn.Module, example: torch.Tensor, target: str | io.BytesIO) -> None:
    with warnings.catch_warnings():
        for notice in _LEGACY_EXPORTER_NOTICES:
            warnings.filterwarnings("ignore", message=notice, category=DeprecationWarning)
        _export_legacy(model, example, target)


def _export_legacy(model: torch.nn.Module, example: torch.Tensor, target: str | io.BytesIO) -> None:
    torch.onnx.export(
        provable_graph(model.eval()),
        (example,),
        target,
        input_names=["input"],
        output_names=["output"],
        opset_version=OPSET,
        dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
        dynamo=False,
    )


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export `model` (eval mode) to ONNX at `path`; the batch axis (feeds) stays dynamic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _export(model, example, str(path))
    return path


def to_onnx(model: torch.nn.Module) -> onnx.ModelProto:
    """The ONNX graph of `model`, exported in memory exactly as `export_onnx` writes it."""
    buffer = io.BytesIO()
    _export(model, torch.zeros(1, input_width(model)), buffer)
    return onnx.load_from_string(buffer.getvalue())
