"""The public-instance layout of a Proofcast circuit, shared by the node and the contracts.

With hashed inputs and hashed parameters EZKL orders the public instances as
[input commitment, model hash, outputs...]; the outputs of K feeds with J values each are
row-major, so output j of feed k is instance 2 + k*J + j. Each output is a signed fixed-point
number with `output_scale` fractional bits, a BN254 field element (negative x as R - |x|).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from circuits.fields import felt_to_float, felt_to_signed

INPUT_HASH_INDEX = 0
MODEL_HASH_INDEX = 1
FIRST_OUTPUT_INDEX = 2


class LayoutError(ValueError):
    """Instances do not match the circuit's declared layout."""


@dataclass(frozen=True)
class InstanceLayout:
    """Where each public value sits in a proof's instances."""

    num_feeds: int
    outputs_per_feed: int
    output_scale: int
    output_names: tuple[str, ...]
    input_hash_index: int | None = INPUT_HASH_INDEX  # None when inputs are not hashed
    model_hash_index: int = MODEL_HASH_INDEX
    first_output_index: int = FIRST_OUTPUT_INDEX

    @property
    def num_instances(self) -> int:
        return self.first_output_index + self.num_feeds * self.outputs_per_feed

    def output_index(self, feed: int, output: int) -> int:
        """Instance index of output `output` of feed `feed`."""
        if not (0 <= feed < self.num_feeds and 0 <= output < self.outputs_per_feed):
            raise LayoutError(
                f"feed {feed} / output {output} outside a {self.num_feeds}x"
                f"{self.outputs_per_feed} layout"
            )
        return self.first_output_index + feed * self.outputs_per_feed + output

    def check(self, instances: list[int]) -> None:
        """Raise LayoutError unless `instances` has this layout's length."""
        if len(instances) != self.num_instances:
            raise LayoutError(
                f"expected {self.num_instances} instances "
                f"({self.num_feeds} feeds x {self.outputs_per_feed} outputs "
                f"+ {self.first_output_index} hashes), "
                f"got {len(instances)}"
            )

    def input_hash(self, instances: list[int]) -> int:
        self.check(instances)
        if self.input_hash_index is None:
            raise LayoutError("this circuit does not expose an input commitment")
        return instances[self.input_hash_index]

    def model_hash(self, instances: list[int]) -> int:
        self.check(instances)
        return instances[self.model_hash_index]

    def fixed_point_outputs(self, instances: list[int]) -> list[list[int]]:
        """Signed fixed-point integers, one row per feed."""
        self.check(instances)
        return [
            [
                felt_to_signed(instances[self.output_index(k, j)])
                for j in range(self.outputs_per_feed)
            ]
            for k in range(self.num_feeds)
        ]

    def float_outputs(self, instances: list[int]) -> list[list[float]]:
        """Decoded outputs as floats, one row per feed."""
        self.check(instances)
        return [
            [
                felt_to_float(instances[self.output_index(k, j)], self.output_scale)
                for j in range(self.outputs_per_feed)
            ]
            for k in range(self.num_feeds)
        ]

    def to_json(self) -> str:
        data = asdict(self) | {"num_instances": self.num_instances}
        data["output_names"] = list(self.output_names)
        return json.dumps(data, indent=2)

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json())
        return path

    @classmethod
    def read(cls, path: Path) -> InstanceLayout:
        """Load a layout written by `write`."""
        try:
            data = json.loads(path.read_text())
            data.pop("num_instances", None)
            data["output_names"] = tuple(data["output_names"])
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise LayoutError(f"{path}: not a readable instance layout ({exc})") from exc
