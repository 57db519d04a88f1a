// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IVaRBacktest} from "./interfaces/IVaRBacktest.sol";
import {RiskOracle} from "./RiskOracle.sol";

/// @title RiskFeedAdapter
/// @notice One output of one Proofcast feed (e.g. the 99% VaR of sp500) behind Chainlink's
///         AggregatorV3Interface, in the unit its `kind` names: consumers of Chainlink feeds
///         switch by changing one address (docs/consumer-checks.md).
/// @dev Kinds: KIND_RAW answers the proved output as published (the VaR in percent, or the log
///      volatility ln(daily vol %), which is negative below 1 %); KIND_DAILY_VOL_PERCENT answers
///      the daily volatility in percent, exp(log vol); KIND_ANNUALISED_VOL_PERCENT the annualised
///      volatility in percent, exp(log vol) x sqrt(252). Both are converted on read with Solady's
///      `expWad` from the log volatility in feed decimals (relative error about 10^-decimals),
///      truncated to the feed's decimals; they are positive for any log volatility above
///      -41 (a volatility the guardrails never let through).
///
///      Round ids are the feed's own round numbers 1, 2, 3, ... (`RiskOracle.feedRound`):
///      `getRoundData(roundId - 1)` is the feed's previous round while its report is in the
///      oracle's history ring; older rounds revert with RiskOracle.RoundNotRetained, ids never
///      issued (0 or above the latest) with RiskOracle.NoDataPresent. `answeredInRound` equals
///      `roundId`.
///
///      Times: `updatedAt` is the block time the oracle accepted the round (heartbeat check: for
///      a daily feed, `block.timestamp - updatedAt <= ~26 h`); `startedAt` is the observation
///      time, the close of the feed's last bar (data-age check: for daily bars
///      `block.timestamp - startedAt <= ~4 days`, to span weekends and holidays).
contract RiskFeedAdapter is AggregatorV3Interface, IVaRBacktest {
    /// @notice Interface version reported by `version()` (3: per-feed round ids, acceptance
    ///         time as updatedAt, adapter kinds).
    uint256 public constant VERSION = 3;
    /// @notice The proved output as published (feed decimals).
    uint8 public constant KIND_RAW = 0;
    /// @notice exp(log volatility): the daily volatility in percent (feed decimals).
    uint8 public constant KIND_DAILY_VOL_PERCENT = 1;
    /// @notice exp(log volatility) x sqrt(252): the annualised volatility in percent.
    uint8 public constant KIND_ANNUALISED_VOL_PERCENT = 2;
    /// @notice sqrt(252) (trading days per year) in WAD.
    uint256 public constant SQRT_252_WAD = 15_874_507_866_387_543_543;

    /// @notice The oracle holding the rounds.
    RiskOracle public immutable oracle;
    /// @notice The oracle feed this adapter exposes.
    bytes32 public immutable feedId;
    /// @notice Which model output of the feed (e.g. 0 = log volatility, 1 = VaR).
    uint256 public immutable outputIndex;
    /// @notice How the output is answered (KIND_RAW, KIND_DAILY_VOL_PERCENT,
    ///         KIND_ANNUALISED_VOL_PERCENT).
    uint8 public immutable kind;
    /// @notice Human-readable description, e.g. "sp500 daily volatility (%)".
    string public description;

    /// @notice The oracle has no code.
    error OracleHasNoCode(address oracle);
    /// @notice The oracle's feeds have no output `outputIndex`.
    error NoSuchOutput(uint256 outputIndex, uint256 outputsPerFeed);
    /// @notice `kind` is not one of the KIND_ constants.
    error UnknownKind(uint8 kind);

    /// @param oracle_ deployed RiskOracle.
    /// @param feedId_ feed to expose (it may be configured later).
    /// @param outputIndex_ model output of the feed to expose.
    /// @param kind_ unit of the answers (a KIND_ constant; the volatility kinds take a log
    ///        volatility output).
    /// @param description_ human-readable description.
    constructor(RiskOracle oracle_, bytes32 feedId_, uint256 outputIndex_, uint8 kind_, string memory description_) {
        if (address(oracle_).code.length == 0) revert OracleHasNoCode(address(oracle_));
        uint256 outputs = oracle_.outputsPerFeed();
        if (outputIndex_ >= outputs) revert NoSuchOutput(outputIndex_, outputs);
        if (kind_ > KIND_ANNUALISED_VOL_PERCENT) revert UnknownKind(kind_);
        oracle = oracle_;
        feedId = feedId_;
        outputIndex = outputIndex_;
        kind = kind_;
        description = description_;
    }

    /// @notice Decimals of `answer` (the feed's: 8 or 18).
    function decimals() public view returns (uint8 decimals_) {
        (,,,, decimals_,) = oracle.feeds(feedId);
    }

    /// @notice Adapter version.
    function version() external pure returns (uint256) {
        return VERSION;
    }

    /// @notice The feed's round `_roundId` (1, 2, 3, ...); reverts with RiskOracle.NoDataPresent
    ///         when the feed has no such round and RiskOracle.RoundNotRetained when it left the
    ///         oracle's history.
    function getRoundData(uint80 _roundId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (_roundId == 0) revert RiskOracle.NoDataPresent(feedId, 0); // feedRound(0) is the latest
        return _round(_roundId);
    }

    /// @notice The feed's latest round; reverts with RiskOracle.NoDataPresent before the first.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return _round(0);
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

    /// @notice `raw` (the output in feed decimals, as the oracle publishes it) in this adapter's
    ///         unit: unchanged for KIND_RAW, else exp(raw) (x sqrt(252) when annualised),
    ///         truncated to the feed's decimals.
    function convert(int256 raw) public view returns (int256) {
        if (kind == KIND_RAW) return raw;
        int256 scale = int256(10 ** (18 - uint256(decimals())));
        uint256 daily = uint256(FixedPointMathLib.expWad(raw * scale));
        if (kind == KIND_ANNUALISED_VOL_PERCENT) daily = FixedPointMathLib.mulWad(daily, SQRT_252_WAD);
        return int256(daily) / scale;
    }

    /// @dev Round `n` of the feed (0: the latest) as AggregatorV3 returns it.
    function _round(uint256 n) internal view returns (uint80, int256, uint256, uint256, uint80) {
        (uint256 number,, uint256 observedAt, uint256 acceptedAt, int256[] memory answers) = oracle.feedRound(feedId, n);
        return (uint80(number), convert(answers[outputIndex]), observedAt, acceptedAt, uint80(number));
    }
}
