import pytest

from circuits.fields import R, felt_from_ezkl_hex, felt_to_float, felt_to_signed


def test_little_endian_hex_decodes() -> None:
    assert felt_from_ezkl_hex("8d04" + "00" * 30) == 0x048D


def test_negative_values_are_r_minus_x() -> None:
    assert felt_to_signed(R - 2462) == -2462
    assert felt_to_signed(1165) == 1165
    assert felt_to_float(R - 4096, scale=13) == -0.5


@pytest.mark.parametrize("word", ["00" * 31, "ff" * 32])
def test_rejects_malformed_field_elements(word: str) -> None:
    with pytest.raises(ValueError):
        felt_from_ezkl_hex(word)
