// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {RiskFeedAdapter} from "../src/RiskFeedAdapter.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

contract RiskFeedAdapterTest is OracleFixture {
    function test_ExposesFeedMetadata() public view {
        assertEq(adapterA.decimals(), 8);
        assertEq(adapterB.decimals(), 18);
        assertEq(adapterA.description(), "ETH 1d volatility");
        assertEq(adapterA.version(), 1);
        assertEq(adapterA.feedId(), FEED_A);
        assertEq(address(adapterA.oracle()), address(oracle));
    }

    function test_LatestRoundDataFollowsTheOracle() public {
        submitValues(ONE, -ONE, 30);
        uint256 firstObserved = block.timestamp - 30;
        vm.warp(block.timestamp + 100);
        submitValues(ONE * 2, ONE, 5);
        AggregatorV3Interface feed = adapterA; // used exactly as a Chainlink feed
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            feed.latestRoundData();
        assertEq(roundId, 2);
        assertEq(answer, 2e8);
        assertEq(startedAt, block.timestamp - 5);
        assertEq(updatedAt, block.timestamp - 5);
        assertEq(answeredInRound, 2);
        (roundId, answer,, updatedAt,) = feed.getRoundData(1);
        assertEq(roundId, 1);
        assertEq(answer, 1e8);
        assertEq(updatedAt, firstObserved);
        (, answer,,,) = adapterB.getRoundData(1);
        assertEq(answer, -1e18);
    }

    function test_RevertWhen_NoDataPresent() public {
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.NoDataPresent.selector, FEED_A, uint80(0)));
        adapterA.latestRoundData();
        submitValues(ONE, ONE, 0);
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.NoDataPresent.selector, FEED_A, uint80(2)));
        adapterA.getRoundData(2);
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.NoDataPresent.selector, FEED_A, uint80(0)));
        adapterA.getRoundData(0);
    }

    function test_RevertWhen_OracleHasNoCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.OracleHasNoCode.selector, eoa));
        new RiskFeedAdapter(RiskOracle(eoa), FEED_A);
    }

    function testFuzz_GetRoundDataMatchesOracleRounds(uint8 updates) public {
        updates = uint8(bound(updates, 1, 12));
        for (uint256 i; i < updates; ++i) {
            vm.warp(block.timestamp + 60);
            submitValues(ONE + int256(i), ONE, 0);
        }
        for (uint80 id = 1; id <= updates; ++id) {
            (uint80 roundId, int256 answer,, uint256 updatedAt,) = adapterA.getRoundData(id);
            RiskOracle.Round memory round = oracle.getRound(FEED_A, id);
            assertEq(roundId, id);
            assertEq(answer, round.answer);
            assertEq(updatedAt, round.observedAt);
        }
    }
}
