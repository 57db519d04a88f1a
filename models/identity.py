"""A model's on-chain identity: the Poseidon hash of its quantised weights.

EZKL with `param_visibility="hashed"` exposes, as a public instance, the Poseidon hash of every
constant tensor of the ONNX graph, taken in the order EZKL's graph evaluation meets them
(`graph_constants`; with
the layouts the export gives them: a bias-free Linear becomes a MatMul by the transposed
weight), each quantised as round(w * 2**param_scale), flattened row-major and encoded as BN254
field elements. This module recomputes that value from the same ONNX export the circuit proves,
so the federated manifest and the circuit name a model by the same number (the circuits tests
check that they agree).
"""

from __future__ import annotations

import ezkl
import numpy as np
import onnx
import torch
from onnx import numpy_helper

from models.export import to_onnx

# Fixed-point fractional bits for weights. Fixed (not calibrated per round) so that a model's
# hash is a property of its weights alone and every round of an architecture shares one key.
PARAM_SCALE = 13

# Order of the BN254 scalar field.
_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def quantised(values: np.ndarray, scale: int) -> list[int]:
    """Fixed-point integers round(v * 2**scale) of `values`, flattened row-major."""
    scaled = np.round(np.asarray(values, dtype=np.float64) * float(2**scale))
    return [int(v) for v in scaled.reshape(-1)]


def poseidon_fixed_point(values: np.ndarray, scale: int) -> int:
    """EZKL's Poseidon hash of `values` quantised at `scale` (as a field-element integer).

    This is how EZKL commits to a hashed tensor: the model hash (weights at the parameter scale)
    and the input commitment (features at the input scale) are both this function.
    """
    felts = [(v % _R).to_bytes(32, "little").hex() for v in quantised(values, scale)]
    (digest,) = ezkl.poseidon_hash(felts)
    return int.from_bytes(bytes.fromhex(digest), "little")


def graph_constants(graph: onnx.GraphProto) -> list[np.ndarray]:
    """Constant tensors of `graph` in the order EZKL's circuit (tract's evaluation order) meets
    them.

    That order is a depth-first walk back from the outputs that emits each node after its
    inputs, visiting a node's computed inputs before its constant ones; a constant is hashed
    once, where the walk first reaches it. Initializers and Constant nodes count; an Identity of
    a constant is the same constant (the exporter emits one when two modules hold equal
    buffers, and EZKL folds it). A constant of zeros added (an Add operand, a Gemm bias) is not
    hashed: tract drops the addition (the VaR head's output shift and folded bias are 0 by
    design; the circuits tests check this against EZKL's witness). For a graph whose nodes
    already come in that order this is simply the order of first use.
    """
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute:
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    producer = {out: node for node in graph.node for out in node.output}
    ordered: list[np.ndarray] = []
    seen: set[str] = set()
    # An explicit stack instead of recursion: (tensor name, inputs still to visit or None).
    for output in graph.output:
        stack: list[tuple[str, list[str] | None]] = [(alias.get(output.name, output.name), None)]
        while stack:
            name, pending = stack.pop()
            if pending is None:
                if name in seen:
                    continue
                seen.add(name)
                if name in constants:
                    ordered.append(constants[name])
                    continue
                node = producer.get(name)
                if node is None:  # a graph input
                    continue
                inputs = [alias.get(i, i) for i in node.input if i]
                added = (
                    inputs
                    if node.op_type == "Add"
                    else inputs[2:]
                    if node.op_type == "Gemm"
                    else []
                )
                zeros = {i for i in added if i in constants and not np.any(constants[i])}
                inputs = [i for i in inputs if i not in zeros]  # tract drops adding zeros
                pending = [i for i in inputs if i not in constants]
                pending += [i for i in inputs if i in constants]
            if pending:
                stack.append((name, pending[1:]))
                stack.append((pending[0], None))
    return ordered


def onnx_model_hash(graph: onnx.ModelProto, param_scale: int = PARAM_SCALE) -> int:
    """Model hash of an exported ONNX graph (what EZKL's hashed-parameter instance holds)."""
    flat = [np.asarray(c, dtype=np.float64).reshape(-1) for c in graph_constants(graph.graph)]
    return poseidon_fixed_point(np.concatenate(flat), param_scale)


def model_hash(model: torch.nn.Module, param_scale: int = PARAM_SCALE) -> int:
    """Poseidon hash of the quantised weights: the model-hash instance the circuit exposes."""
    return onnx_model_hash(to_onnx(model), param_scale)


def model_hash_hex(model: torch.nn.Module, param_scale: int = PARAM_SCALE) -> str:
    """`model_hash` as a 0x-prefixed 32-byte big-endian hex string (how a bytes32 shows it)."""
    return "0x" + model_hash(model, param_scale).to_bytes(32, "big").hex()
