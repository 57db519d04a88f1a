"""The gas report's arithmetic and verdicts (the measurements themselves need real proofs and
run through `proofcast bench contracts`)."""

from dataclasses import replace

from oracle.chain.gas_report import (
    TARGET_PER_FEED_GAS_K16,
    TARGET_VERIFY_GAS,
    ContractsGasRow,
    calldata_gas,
    render_markdown,
)


def row(feeds: int, verify: int, submit: int) -> ContractsGasRow:
    return ContractsGasRow(
        feeds=feeds,
        proof_bytes=1,
        verifier_deploy=1,
        verifier_runtime_bytes=1,
        oracle_deploy=1,
        oracle_runtime_bytes=1,
        adapter_deploy=1,
        adapter_runtime_bytes=1,
        margin_engine_deploy=1,
        margin_engine_runtime_bytes=1,
        configure_feed=1,
        register_model=1,
        submit_first=submit,
        submit_next=submit,
        submit_calldata_bytes=1,
        verify_direct=1,
        verify_direct_calldata_bytes=1,
        latest_round_data_estimate=30_000,
        margin_update=1,
        verifier_call_in_submit=verify,
    )


def test_calldata_gas_follows_eip_2028() -> None:
    assert calldata_gas(b"\x00\x01\x00\xff") == 4 + 16 + 4 + 16
    assert calldata_gas(b"") == 0


def test_verdicts_compare_verification_with_targets() -> None:
    under = row(16, verify=16 * (TARGET_PER_FEED_GAS_K16 - 1), submit=900_000)
    over = replace(under, verifier_call_in_submit=16 * TARGET_PER_FEED_GAS_K16 + 16)
    text_under = render_markdown([row(1, TARGET_VERIFY_GAS - 1, 500_000), under])
    text_over = render_markdown([row(1, TARGET_VERIFY_GAS, 500_000), over])
    assert "NOT met" not in text_under
    assert text_over.count("NOT met") == 3  # K=1 total, K=16 total and K=16 per feed
    assert f"| submit, next report, per feed | 500,000 | {900_000 // 16:,} |" in text_under
