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
        oracle.registerModel(MODEL, 7, 2500, 0, 0, keccak256("metrics"), 0);
        oracle.setTransmitter(address(this), true);
        oracle.setAttesters(attesterAddrs, THRESHOLD);
        volA = new RiskFeedAdapter(oracle, FEED_A, 0, 0, "ETH vol");
        varB = new RiskFeedAdapter(oracle, FEED_B, 1, 0, "BTC VaR");
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
            // Both feeds are in every report: feed round r is report r's.
            (uint80 id, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredIn) =
                volA.getRoundData(uint80(r));
            assertEq(id, r);
            assertEq(updatedAt, 1_700_000_000 + 60 * r);
            assertEq(answeredIn, id);
            assertEq(answer, int256(r) * 1e8 / 8);
            assertEq(startedAt, 1_700_000_000 + 60 * r - 1);
            (, answer,,,) = varB.getRoundData(uint80(r));
            assertEq(answer, int256(10 * r) * 1e18 / 8);
            assertEq(oracle.inputCommitmentOf(FEED_A, r << 8), r);
            (uint256 acceptedAt,, uint256 commitment,) = oracle.reportOf(r);
            assertEq(acceptedAt, 1_700_000_000 + 60 * r);
            assertEq(commitment, r);
        }
    }

    function test_RevertWhen_RoundLeftTheRing() public {
        submitReports(RING + 2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, 2, 3));
        volA.getRoundData(2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, 2 << 8, 3));
        oracle.getRound(FEED_A, 2 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_B, (1 << 8) | 1, 3));
        oracle.getRound(FEED_B, (1 << 8) | 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, 1 << 8, 3));
        oracle.inputCommitmentOf(FEED_A, 1 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportNotRetained.selector, 2, 3));
        oracle.reportOf(2);
        // Rounds never issued still say so.
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 6));
        volA.getRoundData(6);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 0));
        volA.getRoundData(0);
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
        assertEq(id, 1);
        (uint80 again, int256 same, uint256 startedSame,,) = volA.getRoundData(1);
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
        // FEED_B's rounds 2..5 are consecutive although its first report is gone.
        (uint80 latestB,,,,) = varB.latestRoundData();
        assertEq(latestB, 5);
        (, int256 previous,,,) = varB.getRoundData(4);
        assertEq(previous, 4e18);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_B, 2, 3));
        varB.getRoundData(2);
    }

    /// @notice A feed left out of most reports keeps consecutive round ids whose reports are far
    ///         apart: its rounds stay readable while their reports are retained, not while
    ///         `historyReports` of its own rounds are.
    function test_SparseFeedRoundsFollowReportRetention() public {
        submitReports(1); // report 1: both feeds (FEED_A round 1)
        bytes32[] memory onlyB = feeds();
        onlyB[0] = bytes32(0);
        vm.warp(block.timestamp + 60);
        uint256[] memory inst = instancesFor(200, MODEL, 0, 0, ONE, ONE);
        RiskOracle.Report memory report = reportOf(onlyB, times(0, block.timestamp));
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, inst[0])); // report 2
        vm.warp(block.timestamp + 60);
        submitValues(ONE / 2, ONE, 0); // report 3: FEED_A round 2
        (uint80 id,,,,) = volA.latestRoundData();
        assertEq(id, 2);
        (uint80 previous, int256 answer,,,) = volA.getRoundData(1);
        assertEq(previous, 1);
        assertEq(answer, 1e8 / 8);
        (,, uint256 observedAt,,) = oracle.feedRound(FEED_A, 1);
        (uint256 fromOracle,,) = oracle.getRound(FEED_A, 1 << 8);
        assertEq(observedAt, fromOracle);
        submitReports(1); // report 4: the ring (3 reports) drops report 1, FEED_A round 1
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, 1, 2));
        volA.getRoundData(1);
        (previous,,,,) = volA.getRoundData(2);
        assertEq(previous, 2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 4));
        volA.getRoundData(4);
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
        oracle.registerModel(MODEL, 7, 2500, 0, 0, keccak256("metrics"), 0);
        bytes32 retired = bytes32(uint256(0xbeef));
        oracle.registerModel(retired, 1, 0, 0, 0, bytes32(0), 0);
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
        assertEq(oracle.feedRounds(FEED_A), handler.historyLength());
        for (uint256 i; i < handler.historyLength(); ++i) {
            OracleHandler.Accepted memory round = handler.acceptedAt(i);
            uint256 id = round.roundId;
            if (round.roundId >> 8 >= oldest || round.roundId == latest) {
                (uint256 observedAt, uint256 acceptedAt, int256[] memory answers) = oracle.getRound(FEED_A, id);
                assertEq(answers[0], round.answer * 1e8 / int256(1 << SCALE));
                assertEq(observedAt, round.observedAt);
                // The feed's (i + 1)-th round, numbered consecutively, is the same round.
                (uint256 number, uint256 oracleId, uint256 obs, uint256 acc,) = oracle.feedRound(FEED_A, i + 1);
                assertEq(number, i + 1);
                assertEq(oracleId, id);
                assertEq(obs, observedAt);
                assertEq(acc, acceptedAt);
            } else {
                try oracle.getRound(FEED_A, id) {
                    revert("an overwritten round was served");
                } catch (bytes memory reason) {
                    assertEq(
                        keccak256(reason),
                        keccak256(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, id, oldest))
                    );
                }
                try oracle.feedRound(FEED_A, i + 1) {
                    revert("an overwritten feed round was served");
                } catch (bytes memory reason) {
                    assertEq(
                        keccak256(reason),
                        keccak256(abi.encodeWithSelector(RiskOracle.RoundNotRetained.selector, FEED_A, i + 1, oldest))
                    );
                }
            }
        }
    }
}
