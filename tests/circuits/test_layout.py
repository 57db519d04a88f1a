from pathlib import Path

import pytest

from circuits.fields import R
from circuits.layout import InstanceLayout, LayoutError

LAYOUT = InstanceLayout(num_feeds=3, outputs_per_feed=2, output_scale=13, output_names=("a", "b"))


def test_row_major_output_indices() -> None:
    assert LAYOUT.num_instances == 8
    assert LAYOUT.output_index(0, 0) == 2
    assert LAYOUT.output_index(1, 1) == 5
    assert LAYOUT.output_index(2, 0) == 6
    with pytest.raises(LayoutError):
        LAYOUT.output_index(3, 0)


def test_decodes_signed_fixed_point_per_feed() -> None:
    instances = [111, 222, 8192, R - 4096, 0, R - 1, 16384, 1]
    assert LAYOUT.input_hash(instances) == 111
    assert LAYOUT.model_hash(instances) == 222
    assert LAYOUT.fixed_point_outputs(instances) == [[8192, -4096], [0, -1], [16384, 1]]
    assert LAYOUT.float_outputs(instances)[0] == [1.0, -0.5]


def test_wrong_instance_count_is_rejected() -> None:
    with pytest.raises(LayoutError, match="expected 8 instances"):
        LAYOUT.float_outputs([0] * 7)


def test_round_trips_through_json(tmp_path: Path) -> None:
    path = LAYOUT.write(tmp_path / "layout.json")
    assert InstanceLayout.read(path) == LAYOUT


def test_unreadable_layout_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "layout.json"
    bad.write_text("{not json")
    with pytest.raises(LayoutError, match=r"layout\.json"):
        InstanceLayout.read(bad)


def test_layout_without_input_commitment() -> None:
    layout = InstanceLayout(
        num_feeds=1,
        outputs_per_feed=2,
        output_scale=13,
        output_names=("a", "b"),
        input_hash_index=None,
        model_hash_index=0,
        first_output_index=1,
    )
    instances = [7, 8192, R - 8192]
    assert layout.model_hash(instances) == 7
    assert layout.float_outputs(instances) == [[1.0, -1.0]]
    with pytest.raises(LayoutError, match="input commitment"):
        layout.input_hash(instances)
