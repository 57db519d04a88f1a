// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RiskOracle} from "../src/RiskOracle.sol";
import {RiskFeedAdapter} from "../src/RiskFeedAdapter.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";
import {OracleHandler} from "./RiskOracle.invariant.t.sol";

/// @notice The history ring: the last `historyReports` reports stay readable by round id, exactly;
///         older rounds revert with RoundNotRetained / ReportNotRetained, a feed's latest round
///         stays readable from its state, and steady-state reports write no fresh storage slot.
contract RiskOracleHistoryTest is OracleFixture {
    uint256 internal constant RING = 3;

    function setUp() public override {
        super.setUp();
        oracle = new RiskOracle(address(verifier), K, J, SCALE, RING, VAR_OUTPUT, address(this), 0);
        oracle.configureFeed(FEED_A, configA(), limitsA(), "ETH");
        oracle.configureFeed(FEED_B, configB(), limitsB(), "BTC");
        oracle.registerModel(MODEL, 7, 2500, keccak256("metrics"), 0);
        oracle.setTransmitter(address(this), true);
        oracle.setAttesters(attesterAddrs, THRESHOLD);
        volA = new RiskFeedAdapter(oracle, FEED_A, 0, "ETH vol");
        varB = new RiskFeedAdapter(oracle, FEED_B, 1, "BTC VaR");
    }

    /// @dev Report i (1-based) publishes i for FEED_A and 10 i for FEED_B (in units of ONE / 8).
    function submitReports(uint256 n) internal {
        for (uint256 i = 1; i <= n; ++i) {
            vm.warp(block.timestamp + 60);
            submitValues(int256(i) * ONE / 8, int256(10 * i) * ONE / 8, 1);
        }
    }

    function test_RevertWhen_HistoryLengthZero() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidLayout.selector, K, J, SCALE));
        new RiskOracle(address(verifier), K, J, SCALE, 0, VAR_OUTPUT, address(this), 0);
    }

    function test_RoundsInTheRingStayExact() public {
        submitReports(RING + 2); // reports 1..5; the ring holds 3..5
        for (uint256 r = 3; r <= RING + 2; ++r) {
            (uint80 id, int256 answer, uint256 startedAt,, uint80 answeredIn) = volA.getRoundData(uint80(r << 8));
            assertEq(id, r << 8);
            assertEq(answeredIn, id);
            assertEq(answer, int256(r) * 1e8 / 8);
            assertEq(startedAt, 1_700_000_000 + 60 * r - 1);
            (, answer,,,) = varB.getRoundData(uint80((r << 8) | 1));
            assertEq(answer, int256(10 * r) * 1e18 / 8);
            assertEq(oracle.inputCommitmentOf(FEED_A, r << 8), r);
            (uint256 acceptedAt,, uint256 commitment,) = oracle.reportOf(r);
            assertEq(acceptedAt, 1_700_000_000 + 60 * r);
            assertEq(commitment, r);
        }
    }

    function test_RevertWhen_RoundLeftTheRing() public {
        submitReports(RING + 2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, 2 << 8, 3));
        volA.getRoundData(2 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_B, (1 << 8) | 1, 3));
        oracle.getRound(FEED_B, (1 << 8) | 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, 1 << 8, 3));
        oracle.inputCommitmentOf(FEED_A, 1 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportNotRetained.selector, 2, 3));
        oracle.reportOf(2);
        // Rounds never issued still say so.
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 6 << 8));
        volA.getRoundData(6 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownReport.selector, 6));
        oracle.reportOf(6);
    }

    function test_LatestRoundReadableAfterItsReportLeftTheRing() public {
        submitReports(1); // FEED_A and FEED_B in report 1
        // Reports 2..5 publish FEED_B only: FEED_A's latest round (report 1) leaves the ring.
        bytes32[] memory ids = feeds();
        ids[0] = bytes32(0);
        for (uint256 i = 2; i <= RING + 2; ++i) {
            vm.warp(block.timestamp + 60);
            uint256[] memory inst = instancesFor(100 + i, MODEL, 0, 0, int256(i) * ONE, int256(i) * ONE);
            RiskOracle.Report memory report = reportOf(ids, times(0, block.timestamp));
            oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, inst[0]));
        }
        (uint80 id, int256 answer, uint256 startedAt,,) = volA.latestRoundData();
        assertEq(id, 1 << 8);
        (uint80 again, int256 same, uint256 startedSame,,) = volA.getRoundData(1 << 8);
        assertEq(again, id);
        assertEq(same, answer);
        assertEq(startedSame, startedAt);
        assertEq(answer, 1e8 / 8);
        (uint256 observedAt, uint256 acceptedAt, int256[] memory answers) = oracle.getRound(FEED_A, 1 << 8);
        assertEq(observedAt, startedAt);
        assertEq(acceptedAt, 1_700_000_060);
        assertEq(answers[0], 1e8 / 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, 1 << 8, 3));
        oracle.inputCommitmentOf(FEED_A, 1 << 8);
    }

    function test_SteadyStateWritesNoFreshSlot() public {
        submitReports(RING); // fills the ring (and every feed's state)
        vm.warp(block.timestamp + 60);
        uint256[] memory inst = instancesFor(99, MODEL, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, inst[0]);
        uint256 before = vm.snapshotState();
        vm.record();
        oracle.submit(report, proofOf(inst), inst, sigs);
        (, bytes32[] memory writes) = vm.accesses(address(oracle));
        assertGt(writes.length, K + 2); // feed states, ring words, report count
        vm.revertToState(before);
        for (uint256 i; i < writes.length; ++i) {
            // every slot the report writes already held a nonzero value: no 22,100-gas write
            assertTrue(vm.load(address(oracle), writes[i]) != bytes32(0));
        }
    }
}

/// @notice Random report sequences on an oracle with a 4-report ring: every accepted round whose
///         report is retained (and every feed's latest round) reads back exactly; every older one
///         reverts with RoundNotRetained.
contract RiskOracleRingInvariantTest is OracleFixture {
    uint256 internal constant RING = 4;
    OracleHandler internal handler;

    function setUp() public override {
        super.setUp();
        oracle = new RiskOracle(address(verifier), K, J, SCALE, RING, VAR_OUTPUT, address(this), 0);
        oracle.configureFeed(FEED_A, configA(), limitsA(), "ETH");
        oracle.registerModel(MODEL, 7, 2500, keccak256("metrics"), 0);
        bytes32 retired = bytes32(uint256(0xbeef));
        oracle.registerModel(retired, 1, 0, bytes32(0), 0);
        oracle.retireModel(retired);
        oracle.setPermissionless(true);
        oracle.setAttesters(attesterAddrs, THRESHOLD);
        handler = new OracleHandler(oracle, FEED_A, MODEL, retired, keysWithStranger());
        targetContract(address(handler));
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 48
    function invariant_RetainedRoundsExactOlderRoundsNotRetained() public view {
        uint256 count = oracle.reportCount();
        uint256 oldest = count > RING ? count - RING + 1 : 1;
        uint256 latest = oracle.latestRoundId(FEED_A);
        for (uint256 i; i < handler.historyLength(); ++i) {
            OracleHandler.Accepted memory round = handler.acceptedAt(i);
            uint80 id = uint80(round.roundId);
            if (round.roundId >> 8 >= oldest || round.roundId == latest) {
                (uint80 got, int256 answer, uint256 startedAt,,) = oracle.getRoundData(FEED_A, 0, id);
                assertEq(got, id);
                assertEq(answer, round.answer * 1e8 / int256(1 << SCALE));
                assertEq(startedAt, round.observedAt);
            } else {
                try oracle.getRoundData(FEED_A, 0, id) {
                    revert("an overwritten round was served");
                } catch (bytes memory reason) {
                    assertEq(
                        keccak256(reason),
                        keccak256(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, id, oldest))
                    );
                }
            }
        }
    }
}
