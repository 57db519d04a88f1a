// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A feed's on-chain VaR backtest (RiskOracle.backtest, served by each RiskFeedAdapter):
///         over the last 250 scored days, the days scored, the breaches and the Basel zone
///         (0 green, 1 yellow, 2 red), then the lifetime totals and the days not scored (gaps).
interface IVaRBacktest {
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
        );
}
