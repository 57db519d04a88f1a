// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {RiskFeedAdapter} from "../src/RiskFeedAdapter.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {ChainlinkConsumer} from "../src/ChainlinkConsumer.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";

contract RiskFeedAdapterTest is OracleFixture {
    function test_ExposesFeedMetadata() public view {
        assertEq(volA.decimals(), 8);
        assertEq(varB.decimals(), 18);
        assertEq(volA.description(), "ETH daily log volatility (ln %)");
        assertEq(volA.version(), 3);
        assertEq(volA.kind(), volA.KIND_RAW());
        assertEq(volA.feedId(), FEED_A);
        assertEq(volA.outputIndex(), 0);
        assertEq(varB.outputIndex(), 1);
        assertEq(address(volA.oracle()), address(oracle));
    }

    function test_LatestRoundDataFollowsTheOracle() public {
        submitValues(ONE, -ONE, 30);
        uint256 firstObserved = block.timestamp - 30;
        uint256 firstAccepted = block.timestamp;
        vm.warp(block.timestamp + 100);
        submitValues(ONE * 2, ONE, 5);
        AggregatorV3Interface feed = volA; // used exactly as a Chainlink feed
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            feed.latestRoundData();
        assertEq(roundId, 2);
        assertEq(answer, 2e8);
        assertEq(startedAt, block.timestamp - 5); // the observation (bar close)
        assertEq(updatedAt, block.timestamp); // the acceptance
        assertEq(answeredInRound, roundId);
        (roundId, answer, startedAt, updatedAt,) = feed.getRoundData(roundId - 1);
        assertEq(roundId, 1);
        assertEq(answer, 1e8);
        assertEq(startedAt, firstObserved);
        assertEq(updatedAt, firstAccepted);
        (, answer,,,) = varB.getRoundData(1);
        assertEq(answer, -1e18);
    }

    function test_TwoAdaptersOfOneFeedShareRoundsAndServeTheirOutput() public {
        RiskFeedAdapter varA = new RiskFeedAdapter(oracle, FEED_A, 1, 0, "ETH 1-day 99% VaR (%)");
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
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 1));
        volA.getRoundData(1);
        submitValues(ONE, ONE, 0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 2));
        volA.getRoundData(2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 0));
        volA.getRoundData(0);
    }

    // ------------------------------------------------------------ volatility in percent

    /// @dev FEED_A (8 decimals) and FEED_B (18 decimals) with log-volatility bounds [-10, 10].
    function volAdapters()
        internal
        returns (RiskFeedAdapter daily8, RiskFeedAdapter annual8, RiskFeedAdapter daily18, RiskFeedAdapter annual18)
    {
        oracle.configureFeed(FEED_A, configA(), limitsB(), "ETH");
        daily8 = new RiskFeedAdapter(oracle, FEED_A, 0, 1, "ETH daily volatility (%)");
        annual8 = new RiskFeedAdapter(oracle, FEED_A, 0, 2, "ETH annualised volatility (%)");
        daily18 = new RiskFeedAdapter(oracle, FEED_B, 0, 1, "BTC daily volatility (%)");
        annual18 = new RiskFeedAdapter(oracle, FEED_B, 0, 2, "BTC annualised volatility (%)");
    }

    /// @notice exp of the proved log volatility, checked against values computed to 60 digits
    ///         (Python decimal): a negative log vol (daily vol below 1 %) answers a positive
    ///         percentage; annualised = daily x sqrt(252).
    function test_VolatilityKindsAnswerPositivePercent() public {
        (RiskFeedAdapter daily8, RiskFeedAdapter annual8, RiskFeedAdapter daily18, RiskFeedAdapter annual18) =
            volAdapters();
        submitValues(-ONE / 2, ONE * 3 / 2, 0); // ETH log vol -0.5, BTC 1.5
        (, int256 raw,,,) = volA.latestRoundData();
        assertEq(raw, -0.5e8); // the raw kind keeps the log (negative: the guard `answer <= 0` trips)
        (, int256 answer,,,) = daily8.latestRoundData();
        assertApproxEqAbs(answer, 60653065, 1); // exp(-0.5) = 0.6065306597 %
        assertGt(answer, 0);
        (, answer,,,) = annual8.latestRoundData();
        assertApproxEqAbs(answer, 962837572, 1); // x sqrt(252) = 9.628375728 %
        (, answer,,,) = daily18.latestRoundData();
        assertApproxEqRel(answer, 4481689070338064822, 1e3); // exp(1.5) = 4.4816890703 %
        (, answer,,,) = annual18.latestRoundData();
        assertApproxEqRel(answer, 71144608401784686966, 1e3);
        // Every round converts, not only the latest.
        vm.warp(block.timestamp + 60);
        submitValues(-6 * ONE, ONE / 4, 0); // ETH -6 (0.25 %), BTC 0.25
        (uint80 id, int256 latest,,,) = daily18.latestRoundData();
        assertApproxEqRel(latest, 1284025416687741484, 1e3); // exp(0.25)
        (, answer,,,) = daily18.getRoundData(id - 1);
        assertApproxEqRel(answer, 4481689070338064822, 1e3);
        (, answer,,,) = daily8.latestRoundData();
        assertApproxEqAbs(answer, 247875, 1); // exp(-6) = 0.0024787521 %
        (, answer,,,) = annual8.latestRoundData();
        assertApproxEqAbs(answer, 3934897, 1);
        assertEq(daily8.decimals(), 8);
        assertEq(annual18.decimals(), 18);
    }

    /// @notice Over the whole guardrail range the percent answer is exp of the raw log answer:
    ///         ln(answer) recovers the log vol, and annualised / daily = sqrt(252).
    function testFuzz_VolatilityIsExpOfTheLog(int256 logVol) public {
        (,, RiskFeedAdapter daily18, RiskFeedAdapter annual18) = volAdapters();
        logVol = bound(logVol, -10 * ONE, 10 * ONE);
        submitValues(logVol, logVol, 0);
        (,,,, int256[] memory answers) = oracle.feedRound(FEED_B, 0);
        (, int256 daily,,,) = daily18.latestRoundData();
        (, int256 annual,,,) = annual18.latestRoundData();
        assertGt(daily, 0);
        assertApproxEqAbs(FixedPointMathLib.lnWad(daily), answers[0], 1e6); // ln(exp(x)) = x to 1e-12
        assertEq(uint256(annual), FixedPointMathLib.mulWad(uint256(daily), 15_874_507_866_387_543_543));
    }

    // ------------------------------------------------------------ a Chainlink-style consumer

    /// @dev FEED_A with daily-bar timing (observations up to 4 days old accepted), log-vol
    ///      bounds [-10, 10], its daily-volatility adapter and a consumer with a 26 h heartbeat
    ///      and a 4-day data age.
    function dailyConsumer() internal returns (RiskFeedAdapter daily, ChainlinkConsumer consumer) {
        RiskOracle.FeedConfig memory config = configA();
        config.maxAge = 4 days;
        oracle.configureFeed(FEED_A, config, limitsB(), "ETH");
        config = configB();
        config.maxAge = 4 days;
        oracle.configureFeed(FEED_B, config, limitsB(), "BTC");
        daily = new RiskFeedAdapter(oracle, FEED_A, 0, 1, "ETH daily volatility (%)");
        consumer = new ChainlinkConsumer(daily, 26 hours, 4 days);
    }

    /// @notice The recommended checks pass on a weekend: the Friday close published on Monday
    ///         is 2.6 days old (startedAt) but was accepted just now (updatedAt); the log vol is
    ///         negative (daily vol < 1 %) yet the answer is positive; the short TWAP walks back
    ///         with getRoundData(roundId - 1).
    function test_ConsumerChecksPassOnHumanUnits() public {
        (RiskFeedAdapter daily, ChainlinkConsumer consumer) = dailyConsumer();
        uint256 t0 = block.timestamp;
        submitValues(-ONE / 2, ONE, 1 hours); // Thursday's close, accepted an hour later
        vm.warp(t0 + 1 days);
        submitValues(-ONE / 4, ONE, 1 hours); // Friday's
        vm.warp(t0 + 1 days + 62 hours); // Monday morning
        submitValues(-ONE / 8, ONE, 62 hours); // the weekend: Friday's close again, as a new bar
        (uint80 roundId, uint256 answer, uint256 updatedAt) = consumer.latest();
        assertEq(roundId, 3);
        assertEq(updatedAt, block.timestamp);
        (,, uint256 startedAt,,) = daily.latestRoundData();
        assertGt(block.timestamp - startedAt, 2.5 days); // what updatedAt used to be
        assertApproxEqAbs(answer, 88249690, 1); // exp(-0.125) %
        // TWAP of the last three rounds, weighted by how long each was the latest.
        vm.warp(block.timestamp + 2 hours);
        uint256 twap = consumer.twap(3);
        uint256 weighted = uint256(60653065) * 1 days + uint256(77880078) * 62 hours + uint256(88249690) * 2 hours;
        uint256 expected = weighted / (1 days + 64 hours);
        assertApproxEqAbs(twap, expected, 1);
        assertEq(consumer.twap(1), 88249690);
        assertEq(consumer.twap(10), twap); // walks back to round 1 and stops
        // The raw log-vol adapter fails the positive-answer check.
        ChainlinkConsumer rawConsumer = new ChainlinkConsumer(volA, 26 hours, 4 days);
        vm.expectRevert(abi.encodeWithSelector(ChainlinkConsumer.NonPositiveAnswer.selector, 3, -0.125e8));
        rawConsumer.latest();
    }

    function test_ConsumerRejectsOldDataAndAStoppedFeed() public {
        (, ChainlinkConsumer consumer) = dailyConsumer();
        // A fresh round of data observed 3 days ago: within the consumer's 4 days, beyond 3.
        submitValues(ONE, ONE, 3 days + 1);
        uint256 accepted = block.timestamp;
        (uint80 roundId,,) = consumer.latest();
        assertEq(roundId, 1);
        ChainlinkConsumer strict = new ChainlinkConsumer(consumer.feed(), 26 hours, 3 days);
        vm.expectRevert(abi.encodeWithSelector(ChainlinkConsumer.DataTooOld.selector, 1, accepted - 3 days - 1, 3 days));
        strict.latest();
        vm.warp(accepted + 26 hours + 1); // no report for more than a day: heartbeat missed
        vm.expectRevert(abi.encodeWithSelector(ChainlinkConsumer.StaleRound.selector, 1, accepted, 26 hours));
        consumer.latest();
    }

    function test_RevertWhen_OracleHasNoCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.OracleHasNoCode.selector, eoa));
        new RiskFeedAdapter(RiskOracle(eoa), FEED_A, 0, 0, "");
    }

    function test_RevertWhen_OutputDoesNotExist() public {
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.NoSuchOutput.selector, 2, J));
        new RiskFeedAdapter(oracle, FEED_A, 2, 0, "");
    }

    function test_RevertWhen_KindUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(RiskFeedAdapter.UnknownKind.selector, 3));
        new RiskFeedAdapter(oracle, FEED_A, 0, 3, "");
    }

    function testFuzz_GetRoundDataMatchesOracleRounds(uint8 updates) public {
        updates = uint8(bound(updates, 1, 12));
        for (uint256 i; i < updates; ++i) {
            vm.warp(block.timestamp + 60);
            submitValues(ONE + int256(i), ONE, 0);
        }
        for (uint80 report = 1; report <= updates; ++report) {
            (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt,) = volA.getRoundData(report);
            // FEED_A is in slot 0 of every report
            (uint256 observedAt, uint256 acceptedAt, int256[] memory answers) = oracle.getRound(FEED_A, report << 8);
            assertEq(roundId, report);
            assertEq(answer, answers[0]);
            assertEq(answer, (ONE + int256(uint256(report - 1))) * 1e8 / ONE);
            assertEq(startedAt, observedAt);
            assertEq(updatedAt, acceptedAt);
        }
    }
}
