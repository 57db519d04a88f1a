// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IVaRBacktest} from "./interfaces/IVaRBacktest.sol";

/// @title MarginEngine
/// @notice Example consumer: sets a perp/lending initial-margin requirement from a volatility
///         feed, falling back to a conservative volatility when the feed is stale or unusable.
/// @dev margin (bps) = min(baseMarginBps + volatility * volMultiplierBps * (3 + plus) / 3, maxMarginBps)
///      where volatility is the feed answer divided by 10^decimals, in the feed's own unit: on a
///      Proofcast "annualised volatility (%)" adapter 18.5 means 18.5 %, so `volMultiplierBps`
///      is per percentage point (the demo reads the VaR adapter, also in percent). `plus` is the
///      Basel plus factor of the VaR backtest's zone (`plusFactorPercent`): a model that
///      breaches too often gets a larger buffer, as a bank's capital multiplier does.
contract MarginEngine {
    /// @notice The volatility feed (any AggregatorV3Interface, e.g. a RiskFeedAdapter).
    AggregatorV3Interface public immutable volatilityFeed;
    /// @notice Largest accepted age of the feed's `updatedAt`, in seconds.
    uint256 public immutable maxStaleness;
    /// @notice Volatility (in feed units) used when the feed is stale or unusable.
    uint256 public immutable fallbackVolatility;
    /// @notice Margin with zero volatility, in basis points.
    uint256 public immutable baseMarginBps;
    /// @notice Margin added per 1.0 of volatility, in basis points.
    uint256 public immutable volMultiplierBps;
    /// @notice Upper clamp of the margin, in basis points.
    uint256 public immutable maxMarginBps;
    /// @notice 10^decimals of the feed, read once at deployment.
    uint256 public immutable unit;
    /// @notice Where the VaR backtest is read (a RiskFeedAdapter; address(0): no plus factor).
    IVaRBacktest public immutable backtestSource;

    /// @notice The requirement last set by `updateInitialMargin`, in basis points.
    uint256 public initialMarginBps;

    /// @notice A new initial-margin requirement was set.
    event InitialMarginUpdated(uint256 marginBps, uint256 volatility, bool usedFallback);

    /// @notice Constructor parameters are inconsistent.
    error InvalidMarginParameters();

    /// @param feed volatility feed.
    /// @param maxStaleness_ seconds after which the feed counts as stale.
    /// @param fallbackVolatility_ conservative volatility in feed units.
    /// @param baseMarginBps_ margin at zero volatility.
    /// @param volMultiplierBps_ margin per 1.0 volatility.
    /// @param maxMarginBps_ margin ceiling.
    /// @param backtestSource_ the VaR backtest to scale by (address(0): none).
    constructor(
        AggregatorV3Interface feed,
        uint256 maxStaleness_,
        uint256 fallbackVolatility_,
        uint256 baseMarginBps_,
        uint256 volMultiplierBps_,
        uint256 maxMarginBps_,
        IVaRBacktest backtestSource_
    ) {
        if (maxMarginBps_ < baseMarginBps_ || maxMarginBps_ > 10_000 || maxStaleness_ == 0) {
            revert InvalidMarginParameters();
        }
        volatilityFeed = feed;
        maxStaleness = maxStaleness_;
        fallbackVolatility = fallbackVolatility_;
        baseMarginBps = baseMarginBps_;
        volMultiplierBps = volMultiplierBps_;
        maxMarginBps = maxMarginBps_;
        unit = 10 ** uint256(feed.decimals());
        backtestSource = backtestSource_;
        initialMarginBps = marginFor(fallbackVolatility_);
    }

    /// @notice The requirement the current feed state implies, without storing it.
    /// @return marginBps initial margin in basis points.
    /// @return volatility the volatility used, in feed units.
    /// @return usedFallback true when the feed was stale, non-positive or reverted.
    function quote() public view returns (uint256 marginBps, uint256 volatility, bool usedFallback) {
        volatility = fallbackVolatility;
        usedFallback = true;
        try volatilityFeed.latestRoundData() returns (
            uint80 roundId, int256 answer, uint256, uint256 updatedAt, uint80 answeredInRound
        ) {
            bool fresh = updatedAt != 0 && updatedAt <= block.timestamp && block.timestamp - updatedAt <= maxStaleness;
            if (fresh && answer > 0 && answeredInRound >= roundId) {
                volatility = uint256(answer);
                usedFallback = false;
            }
        } catch {}
        marginBps = marginFor(volatility);
    }

    /// @notice Reads the feed and stores the resulting initial-margin requirement.
    function updateInitialMargin() external returns (uint256 marginBps) {
        uint256 volatility;
        bool usedFallback;
        (marginBps, volatility, usedFallback) = quote();
        initialMarginBps = marginBps;
        emit InitialMarginUpdated(marginBps, volatility, usedFallback);
    }

    /// @notice Collateral required to open `notional` under the stored requirement.
    function requiredCollateral(uint256 notional) external view returns (uint256) {
        return notional * initialMarginBps / 10_000;
    }

    /// @notice Margin in basis points for `volatility` (feed units), scaled by the backtest's
    ///         plus factor and clamped.
    function marginFor(uint256 volatility) public view returns (uint256) {
        if (volatility > type(uint128).max) return maxMarginBps;
        uint256 margin = baseMarginBps + volatility * volMultiplierBps * (300 + plusFactorPercent()) / (300 * unit);
        return margin > maxMarginBps ? maxMarginBps : margin;
    }

    /// @notice Basel's plus factor (percent, on a multiplier of 3) for the backtest's zone: green
    ///         0; yellow 40, 50, 65, 75, 85 for 5, 6, 7, 8, 9 breaches (fewer breaches, in a
    ///         window of fewer than 250 days, count as 5); red 100. A backtest that cannot be read
    ///         counts as red: an unknown track record is no reason for a thin margin.
    function plusFactorPercent() public view returns (uint256) {
        if (address(backtestSource) == address(0)) return 0;
        try backtestSource.backtest() returns (uint256, uint256 breaches, uint8 zone, uint256, uint256, uint256) {
            if (zone == 0) return 0;
            if (zone == 1) {
                if (breaches <= 5) return 40;
                if (breaches >= 9) return 85;
                return [uint256(50), 65, 75][breaches - 6];
            }
        } catch {}
        return 100;
    }
}
