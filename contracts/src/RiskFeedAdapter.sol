// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IVaRBacktest} from "./interfaces/IVaRBacktest.sol";
import {RiskOracle} from "./RiskOracle.sol";

/// @title RiskFeedAdapter
/// @notice One output of one Proofcast feed (e.g. the 99% VaR of sp500) behind Chainlink's
///         AggregatorV3Interface: consumers of Chainlink feeds switch by changing one address.
/// @dev `startedAt` and `updatedAt` are both the feed's observation time (the close of its last
///      bar, not the block it was accepted in), so a consumer's usual
///      `block.timestamp - updatedAt` staleness check measures the age of the data itself.
///      `answeredInRound` equals `roundId`; round ids increase with every round of the feed.
contract RiskFeedAdapter is AggregatorV3Interface, IVaRBacktest {
    /// @notice Interface version reported by `version()`.
    uint256 public constant VERSION = 2;

    /// @notice The oracle holding the rounds.
    RiskOracle public immutable oracle;
    /// @notice The oracle feed this adapter exposes.
    bytes32 public immutable feedId;
    /// @notice Which model output of the feed (e.g. 0 = volatility, 1 = VaR).
    uint256 public immutable outputIndex;
    /// @notice Human-readable description, e.g. "sp500 1-day 99% VaR (percent)".
    string public description;

    /// @notice The oracle has no code.
    error OracleHasNoCode(address oracle);
    /// @notice The oracle's feeds have no output `outputIndex`.
    error NoSuchOutput(uint256 outputIndex, uint256 outputsPerFeed);

    /// @param oracle_ deployed RiskOracle.
    /// @param feedId_ feed to expose (it may be configured later).
    /// @param outputIndex_ model output of the feed to expose.
    /// @param description_ human-readable description.
    constructor(RiskOracle oracle_, bytes32 feedId_, uint256 outputIndex_, string memory description_) {
        if (address(oracle_).code.length == 0) revert OracleHasNoCode(address(oracle_));
        uint256 outputs = oracle_.outputsPerFeed();
        if (outputIndex_ >= outputs) revert NoSuchOutput(outputIndex_, outputs);
        oracle = oracle_;
        feedId = feedId_;
        outputIndex = outputIndex_;
        description = description_;
    }

    /// @notice Decimals of `answer` (8 or 18).
    function decimals() external view returns (uint8 decimals_) {
        (,,,, decimals_,) = oracle.feeds(feedId);
    }

    /// @notice Adapter version.
    function version() external pure returns (uint256) {
        return VERSION;
    }

    /// @notice Round `_roundId` of the feed; reverts with RiskOracle.NoDataPresent when absent.
    function getRoundData(uint80 _roundId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return oracle.getRoundData(feedId, outputIndex, _roundId);
    }

    /// @notice Latest round of the feed; reverts with RiskOracle.NoDataPresent before the first.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return oracle.latestRoundData(feedId, outputIndex);
    }

    /// @notice The feed's VaR backtest (RiskOracle.backtest): window days, breaches, Basel zone
    ///         (0 green, 1 yellow, 2 red), lifetime scored days and breaches, and gaps.
    function backtest()
        external
        view
        returns (
            uint256 scoredDays,
            uint256 breaches,
            uint8 zone,
            uint256 lifetimeScoredDays,
            uint256 lifetimeBreaches,
            uint256 gaps
        )
    {
        RiskOracle.Backtest memory b = oracle.backtest(feedId);
        return (b.scoredDays, b.breaches, b.zone, b.lifetimeScoredDays, b.lifetimeBreaches, b.gaps);
    }
}
