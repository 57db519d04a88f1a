"""A model's on-chain identity: the Poseidon hash of its quantised weights.

EZKL with `param_visibility="hashed"` exposes, as a public instance, the Poseidon hash of every
constant tensor of the graph (ONNX initializers, in graph order), each quantised to fixed point
as round(w * 2**param_scale), flattened row-major and encoded as BN254 field elements. This
module recomputes that value from the torch module alone, so the federated manifest and the
circuit name a model by the same number (the circuits tests check they agree).
"""

from __future__ import annotations

import ezkl
import numpy as np
import torch

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


def model_hash(model: torch.nn.Module, param_scale: int = PARAM_SCALE) -> int:
    """Poseidon hash of the quantised weights: the model-hash instance the circuit exposes.

    All parameters and buffers, in state_dict order (the order the ONNX export keeps them).
    """
    flat = [t.detach().double().numpy().reshape(-1) for t in model.state_dict().values()]
    return poseidon_fixed_point(np.concatenate(flat), param_scale)


def model_hash_hex(model: torch.nn.Module, param_scale: int = PARAM_SCALE) -> str:
    """`model_hash` as a 0x-prefixed 32-byte big-endian hex string (how a bytes32 shows it)."""
    return "0x" + model_hash(model, param_scale).to_bytes(32, "big").hex()
