// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {RiskOracle} from "./RiskOracle.sol";

/// @title RiskFeedAdapter
/// @notice One Proofcast feed behind Chainlink's AggregatorV3Interface: consumers of Chainlink
///         feeds switch by changing one address.
/// @dev `startedAt` and `updatedAt` are both the report's observation time (not the block it was
///      accepted in), so a consumer's usual `block.timestamp - updatedAt` staleness check
///      measures the age of the data itself. `answeredInRound` equals `roundId`.
contract RiskFeedAdapter is AggregatorV3Interface {
    /// @notice Interface version reported by `version()`.
    uint256 public constant VERSION = 1;

    /// @notice The oracle holding the rounds.
    RiskOracle public immutable oracle;
    /// @notice The oracle feed this adapter exposes.
    bytes32 public immutable feedId;

    /// @notice The oracle has no code.
    error OracleHasNoCode(address oracle);
    /// @notice The requested round does not exist (Chainlink reverts with "No data present").
    error NoDataPresent(bytes32 feedId, uint80 roundId);

    /// @param oracle_ deployed RiskOracle.
    /// @param feedId_ feed to expose (it may be configured later).
    constructor(RiskOracle oracle_, bytes32 feedId_) {
        if (address(oracle_).code.length == 0) revert OracleHasNoCode(address(oracle_));
        oracle = oracle_;
        feedId = feedId_;
    }

    /// @notice Decimals of `answer` (8 or 18).
    function decimals() external view returns (uint8) {
        (,,,,,, uint8 decimals_,) = oracle.feeds(feedId);
        return decimals_;
    }

    /// @notice Human-readable feed description.
    function description() external view returns (string memory) {
        return oracle.feedDescription(feedId);
    }

    /// @notice Adapter version.
    function version() external pure returns (uint256) {
        return VERSION;
    }

    /// @notice Round `_roundId` of the feed; reverts with NoDataPresent when absent.
    function getRoundData(uint80 _roundId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return _round(_roundId);
    }

    /// @notice Latest round of the feed; reverts with NoDataPresent before the first report.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return _round(oracle.latestRoundId(feedId));
    }

    function _round(uint80 id) internal view returns (uint80, int256, uint256, uint256, uint80) {
        RiskOracle.Round memory round = oracle.getRound(feedId, id);
        if (id == 0 || round.observedAt == 0) revert NoDataPresent(feedId, id);
        return (id, round.answer, round.observedAt, round.observedAt, id);
    }
}
