"""The gas report's arithmetic and verdicts (the measurements themselves need real proofs and
run through `proofcast bench contracts`)."""

from dataclasses import replace

from oracle.chain.gas_report import (
    PER_FEED_GOAL,
    TARGET_ATTESTER_GAS_2,
    TARGET_SUBMIT_GAS_K4,
    TARGET_SUBMIT_GAS_K16,
    ContractsGasRow,
    calldata_gas,
    per_feed_answer,
    render_markdown,
)


def row(
    feeds: int, submit: int, per_signature: int = 6_000, digest: int = 3_000
) -> ContractsGasRow:
    return ContractsGasRow(
        feeds=feeds,
        outputs_per_feed=2,
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
        set_attesters=1,
        register_model=1,
        submit_first=submit,
        submit_by_threshold={
            1: submit - per_signature,
            2: submit,
            3: submit + per_signature,
        },
        submit_calldata_bytes=1,
        verify_direct=1,
        verifier_call_in_submit=400_000,
        digest_gas=digest,
        latest_round_data_estimate=30_000,
        margin_update=1,
    )


def test_calldata_gas_follows_eip_2028() -> None:
    assert calldata_gas(b"\x00\x01\x00\xff") == 4 + 16 + 4 + 16
    assert calldata_gas(b"") == 0


def test_attester_check_and_oracle_share_are_derived_from_the_threshold_runs() -> None:
    r = row(4, 550_000, per_signature=7_000, digest=2_500)
    assert r.gas_per_signature == 7_000
    assert r.attester_check(2) == 2_500 + 14_000
    assert r.oracle_share == 550_000 - 400_000 - 16_500
    assert r.submit_next_per_feed == 550_000 // 4


def test_verdicts_compare_whole_submits_with_targets() -> None:
    ok = render_markdown([row(4, TARGET_SUBMIT_GAS_K4), row(16, TARGET_SUBMIT_GAS_K16)])
    assert "NOT met" not in ok
    over = [row(4, TARGET_SUBMIT_GAS_K4 + 1), row(16, TARGET_SUBMIT_GAS_K16 + 1)]
    assert render_markdown(over).count("NOT met") == 2
    costly = replace(row(16, 600_000), digest_gas=TARGET_ATTESTER_GAS_2)
    assert "attester check with 2 signatures: " in render_markdown([costly])
    assert render_markdown([costly]).count("NOT met") == 1
    assert f"| submit per feed | {600_000 // 16:,} |" in render_markdown([costly])


def test_per_feed_goal_is_measured_when_reached_else_extrapolated_and_labelled() -> None:
    reached = per_feed_answer([row(16, 30 * 16_000), row(32, (PER_FEED_GOAL - 1) * 32)])
    assert reached[-1].startswith("- measured: under") and "K = 32" in reached[-1]
    # 400k fixed + 10k per feed: 25k per feed at K = 400k / 15k = 26.7 -> 27
    far = per_feed_answer([row(4, 440_000), row(16, 560_000)])
    assert "extrapolated" in far[-1] and "about K = 27" in far[-1]
    steep = per_feed_answer([row(4, 400_000), row(16, 400_000 + 12 * 30_000)])
    assert "not reached" in steep[-1]


def test_anchor_table_puts_the_same_values_through_ocr2_beside_our_submit() -> None:
    text = render_markdown([row(4, 650_000), row(16, 880_000)])
    assert "| 4 | 8 | 650,000 | 81,250 | ~1,280,000 | 183,000-262,000 | 200,000-230,000 |" in text
    assert "| 16 | 32 | 880,000 | 27,500 | ~5,120,000 |" in text
