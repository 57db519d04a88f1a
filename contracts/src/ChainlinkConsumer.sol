// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";

/// @title ChainlinkConsumer
/// @notice Example consumer of any AggregatorV3Interface feed (e.g. a RiskFeedAdapter) applying
///         the checks recommended in docs/consumer-checks.md: a positive answer, a heartbeat on
///         `updatedAt` (when the round was accepted), a data-age limit on `startedAt` (when the
///         data was observed), `answeredInRound >= roundId`, and a short time-weighted average
///         that walks back with `getRoundData(roundId - 1)`.
/// @dev For a Proofcast daily feed: heartbeat ~26 h (one report per trading day plus slack),
///      data age ~4 days (the last close before a weekend or holiday stays valid until the next).
contract ChainlinkConsumer {
    /// @notice The feed read.
    AggregatorV3Interface public immutable feed;
    /// @notice Largest `block.timestamp - updatedAt` accepted (seconds).
    uint256 public immutable heartbeat;
    /// @notice Largest `block.timestamp - startedAt` accepted (seconds).
    uint256 public immutable maxDataAge;

    /// @notice The latest round was accepted too long ago (the feed stopped updating).
    error StaleRound(uint80 roundId, uint256 updatedAt, uint256 heartbeat);
    /// @notice The round's data was observed too long ago.
    error DataTooOld(uint80 roundId, uint256 startedAt, uint256 maxDataAge);
    /// @notice The answer is zero or negative.
    error NonPositiveAnswer(uint80 roundId, int256 answer);
    /// @notice The round is not complete (answeredInRound < roundId, or no timestamp).
    error IncompleteRound(uint80 roundId, uint80 answeredInRound);
    /// @notice A time-weighted average over zero rounds was asked for.
    error NoRounds();

    constructor(AggregatorV3Interface feed_, uint256 heartbeat_, uint256 maxDataAge_) {
        feed = feed_;
        heartbeat = heartbeat_;
        maxDataAge = maxDataAge_;
    }

    /// @notice The latest answer after every check; reverts with the failing check's error.
    function latest() public view returns (uint80 roundId, uint256 answer, uint256 updatedAt) {
        int256 raw;
        uint256 startedAt;
        uint80 answeredInRound;
        (roundId, raw, startedAt, updatedAt, answeredInRound) = feed.latestRoundData();
        _checkRound(roundId, raw, updatedAt, answeredInRound);
        if (block.timestamp - updatedAt > heartbeat) revert StaleRound(roundId, updatedAt, heartbeat);
        if (startedAt > block.timestamp || block.timestamp - startedAt > maxDataAge) {
            revert DataTooOld(roundId, startedAt, maxDataAge);
        }
        answer = uint256(raw);
    }

    /// @notice Time-weighted average of the answers in force over the last `rounds` rounds
    ///         (each weighted by how long it was the latest: from its `updatedAt` to the next
    ///         round's, the latest one until now; a round accepted in the current block weighs
    ///         1 s). Walks back with `getRoundData(roundId - 1)`, so it reverts (e.g. with the
    ///         feed's RoundNotRetained) if an earlier round is not readable.
    function twap(uint256 rounds) external view returns (uint256 average) {
        if (rounds == 0) revert NoRounds();
        (uint80 roundId, uint256 answer, uint256 end) = latest();
        uint256 weighted;
        uint256 total;
        (weighted, total) = _add(weighted, total, answer, end, block.timestamp);
        for (uint256 i = 1; i < rounds && roundId > 1; ++i) {
            --roundId;
            (uint80 id, int256 raw,, uint256 updatedAt, uint80 answeredInRound) = feed.getRoundData(roundId);
            _checkRound(id, raw, updatedAt, answeredInRound);
            (weighted, total) = _add(weighted, total, uint256(raw), updatedAt, end);
            end = updatedAt;
        }
        average = weighted / total;
    }

    function _checkRound(uint80 roundId, int256 answer, uint256 updatedAt, uint80 answeredInRound) internal pure {
        if (updatedAt == 0 || answeredInRound < roundId) revert IncompleteRound(roundId, answeredInRound);
        if (answer <= 0) revert NonPositiveAnswer(roundId, answer);
    }

    function _add(uint256 weighted, uint256 total, uint256 answer, uint256 from, uint256 to)
        internal
        pure
        returns (uint256, uint256)
    {
        uint256 span = to > from ? to - from : 1;
        return (weighted + answer * span, total + span);
    }
}
