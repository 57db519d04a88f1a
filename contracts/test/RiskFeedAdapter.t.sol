// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {RiskFeedAdapter} from "../src/RiskFeedAdapter.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

contract RiskFeedAdapterTest is OracleFixture {
    function test_ExposesFeedMetadata() public view {
        assertEq(volA.decimals(), 8);
        assertEq(varB.decimals(), 18);
        assertEq(volA.description(), "ETH 1-day volatility (percent)");
        assertEq(volA.version(), 2);
        assertEq(volA.feedId(), FEED_A);
        assertEq(volA.outputIndex(), 0);
        assertEq(varB.outputIndex(), 1);
        assertEq(address(volA.oracle()), address(oracle));
    }

    function test_LatestRoundDataFollowsTheOracle() public {
        submitValues(ONE, -ONE, 30);
        uint256 firstObserved = block.timestamp - 30;
        vm.warp(block.timestamp + 100);
        submitValues(ONE * 2, ONE, 5);
        AggregatorV3Interface feed = volA; // used exactly as a Chainlink feed
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            feed.latestRoundData();
        assertEq(roundId, 2 << 8);
        assertEq(answer, 2e8);
        assertEq(startedAt, block.timestamp - 5);
        assertEq(updatedAt, block.timestamp - 5);
        assertEq(answeredInRound, roundId);
        (roundId, answer,, updatedAt,) = feed.getRoundData(1 << 8);
        assertEq(roundId, 1 << 8);
        assertEq(answer, 1e8);
        assertEq(updatedAt, firstObserved);
        (, answer,,,) = varB.getRoundData((1 << 8) | 1);
        assertEq(answer, -1e18);
    }

    function test_TwoAdaptersOfOneFeedShareRoundsAndServeTheirOutput() public {
        RiskFeedAdapter varA = new RiskFeedAdapter(oracle, FEED_A, 1, "ETH 1-day 99% VaR");
        uint256[] memory inst = instancesFor(7, MODEL, ONE / 2, 3 * ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, 7));
        (uint80 idVol, int256 vol,,,) = volA.latestRoundData();
        (uint80 idVar, int256 var99,,,) = varA.latestRoundData();
        assertEq(idVol, idVar);
        assertEq(vol, 0.5e8);
        assertEq(var99, 3e8);
    }

    function test_RevertWhen_NoDataPresent() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 0));
        volA.latestRoundData();
        submitValues(ONE, ONE, 0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 2 << 8));
        volA.getRoundData(2 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 0));
        volA.getRoundData(0);
    }

    function test_RevertWhen_OracleHasNoCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.OracleHasNoCode.selector, eoa));
        new RiskFeedAdapter(RiskOracle(eoa), FEED_A, 0, "");
    }

    function test_RevertWhen_OutputDoesNotExist() public {
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.NoSuchOutput.selector, 2, J));
        new RiskFeedAdapter(oracle, FEED_A, 2, "");
    }

    function testFuzz_GetRoundDataMatchesOracleRounds(uint8 updates) public {
        updates = uint8(bound(updates, 1, 12));
        for (uint256 i; i < updates; ++i) {
            vm.warp(block.timestamp + 60);
            submitValues(ONE + int256(i), ONE, 0);
        }
        for (uint80 report = 1; report <= updates; ++report) {
            uint80 id = report << 8; // FEED_A is in slot 0
            (uint80 roundId, int256 answer,, uint256 updatedAt,) = volA.getRoundData(id);
            (uint256 observedAt,, int256[] memory answers) = oracle.getRound(FEED_A, id);
            assertEq(roundId, id);
            assertEq(answer, answers[0]);
            assertEq(answer, (ONE + int256(uint256(report - 1))) * 1e8 / ONE);
            assertEq(updatedAt, observedAt);
        }
    }
}
