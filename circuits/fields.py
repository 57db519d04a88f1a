"""BN254 scalar-field elements as EZKL writes them, and their signed fixed-point meaning."""

from __future__ import annotations

# Order of the BN254 scalar field: every public instance is an integer modulo R.
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def felt_from_ezkl_hex(word: str) -> int:
    """Decode an instance from a proof file (32 bytes, little-endian hex) to an integer."""
    raw = bytes.fromhex(word.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"field element must be 32 bytes, got {len(raw)}: {word!r}")
    value = int.from_bytes(raw, "little")
    if value >= R:
        raise ValueError(f"value {value} is not a BN254 scalar field element")
    return value


def felt_to_signed(value: int) -> int:
    """Signed integer of a field element: negatives are encoded as R - |x|."""
    if not 0 <= value < R:
        raise ValueError(f"value {value} is not a BN254 scalar field element")
    return value - R if value > R // 2 else value


def felt_to_float(value: int, scale: int) -> float:
    """Float of a fixed-point field element with `scale` fractional bits."""
    return felt_to_signed(value) / float(1 << scale)
