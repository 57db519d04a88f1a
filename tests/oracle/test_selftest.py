"""The whole pipe: placeholder model -> ONNX -> EZKL proof -> reusable verifier on anvil."""

from pathlib import Path

import pytest

from oracle.chain.client import EIP170_LIMIT
from oracle.selftest import SelftestReport


@pytest.mark.slow
def test_real_proof_verifies_on_chain_and_tampering_is_rejected(
    selftest_run: tuple[Path, SelftestReport],
) -> None:
    _, report = selftest_run
    assert report.onnx_max_abs_diff <= 1e-5
    assert report.python_verified
    assert report.accepted_on_chain
    assert report.rejected_flipped_byte
    assert report.rejected_changed_output
    assert 0 < report.verifier_runtime_bytes <= EIP170_LIMIT
    assert report.verify_gas > 0 and report.deploy_gas > 0


@pytest.mark.slow
def test_proved_outputs_match_float_model(selftest_run: tuple[Path, SelftestReport]) -> None:
    _, report = selftest_run
    assert len(report.proved_outputs) == len(report.float_outputs) == 2
    for proved, expected in zip(report.proved_outputs, report.float_outputs, strict=True):
        assert proved == pytest.approx(expected, abs=5e-3)
