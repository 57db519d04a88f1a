"""Human units on the operator command line and the deployment file: parsed once into what
the contracts take, bad input refused with one line naming the value or file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oracle.chain.contracts import OutputSpec
from oracle.ops.deployment import DeploymentFile, DeploymentFileError, oracle_address
from oracle.ops.units import UnitError, parse_duration, parse_limit

ORACLE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
VERIFIER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def test_limits_in_percent_become_the_oracles_fixed_point() -> None:
    spec = parse_limit("var99_pct=0:20%:10%", decimals=8)
    assert spec == OutputSpec("var99_pct", 0, 20 * 10**8, 10 * 10**8, 0)
    # 2^13 fixed point, what configureFeed takes: bounds inward, deltas down
    assert spec.limits(output_scale=13, decimals=8) == (0, 20 * 8192, 10 * 8192, 0)
    vol = parse_limit("log_vol_pct = -4.5:5:0.1:1", decimals=8)
    assert (vol.min_answer, vol.max_answer, vol.max_window_delta) == (-450_000_000, 5 * 10**8,
                                                                     10**8)  # fmt: skip
    lo, hi, delta, window = vol.limits(13, 8)
    assert (lo, hi, delta, window) == (-36864, 40960, 819, 8192)  # 0.1 * 8192 = 819.2, down


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("var99_pct=50:20:1", "minimum 50 is above maximum 20"),
        ("var99_pct=0:abc:1", "'abc' is not a number"),
        ("var99_pct=0:20", "expected NAME=MIN:MAX:MAX_DELTA"),
        ("0:20:1", "expected NAME=MIN:MAX:MAX_DELTA"),
        ("var99_pct=0:20:-1", "must be >= 0"),
        ("var99_pct=0:20:0.000000001", "more than 8 decimal digits"),
        ("var99_pct=0:inf:1", "not a finite number"),
    ],
)
def test_bad_limits_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(UnitError, match=message.replace("(", r"\(")) as info:
        parse_limit(text, decimals=8)
    assert "\n" not in str(info.value)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("0", "90", "90s", "30m", "26h", "2d", "1w", "1.5h")] == [
        0, 90, 90, 1800, 93_600, 172_800, 604_800, 5400,
    ]  # fmt: skip
    for bad in ("2 days", "-1h", "h", "0.5s"):
        with pytest.raises(UnitError):
            parse_duration(bad)


def record() -> DeploymentFile:
    return DeploymentFile(
        chain_id=31337, block=7, oracle=ORACLE, verifier=VERIFIER,
        adapters={"sp500/var99_pct": VERIFIER}, feeds=["sp500"], margin_engine=None,
        governance_delay=172_800, admin=ORACLE, circuit="/c", outputs=["log_vol_pct", "var99_pct"],
    )  # fmt: skip


def test_deployment_file_round_trip(tmp_path: Path) -> None:
    path = record().write(tmp_path / "deploy" / "deployment.json")
    assert DeploymentFile.read(path) == record()
    assert oracle_address(None, path) == (ORACLE, record())
    assert oracle_address(ORACLE.lower(), None) == (ORACLE, None)


def test_bad_deployment_files_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    with pytest.raises(DeploymentFileError, match=f"{path} does not exist"):
        DeploymentFile.read(path)
    path.write_text("{not json")
    with pytest.raises(DeploymentFileError, match=f"{path} is not JSON"):
        DeploymentFile.read(path)
    data = json.loads(record().write(path).read_text())
    path.write_text(json.dumps(data | {"oracle": "0x1234"}))
    with pytest.raises(DeploymentFileError, match=f"{path}: oracle '0x1234' is no address"):
        DeploymentFile.read(path)
    path.write_text(json.dumps(data | {"surprise": 1}))
    with pytest.raises(DeploymentFileError, match="surprise"):
        DeploymentFile.read(path)
    with pytest.raises(DeploymentFileError, match="--oracle ADDRESS or --deployment FILE"):
        oracle_address(ORACLE, path)
    with pytest.raises(DeploymentFileError, match="not an address"):
        oracle_address("sp500", None)
