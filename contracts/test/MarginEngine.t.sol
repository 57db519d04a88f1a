// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarginEngine} from "../src/MarginEngine.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";
import {IVaRBacktest} from "../src/interfaces/IVaRBacktest.sol";

/// @dev A backtest whose zone and breaches the test sets (the plus-factor mapping in isolation;
///      the ledger itself is tested in RiskOracle.backtest.t.sol).
contract BacktestStub is IVaRBacktest {
    uint256 public breaches;
    uint8 public zone;
    bool public broken;

    function set(uint8 zone_, uint256 breaches_, bool broken_) external {
        (zone, breaches, broken) = (zone_, breaches_, broken_);
    }

    function backtest() external view returns (uint256, uint256, uint8, uint256, uint256, uint256) {
        require(!broken, "broken");
        return (250, breaches, zone, 250, breaches, 0);
    }
}

contract MarginEngineTest is OracleFixture {
    MarginEngine internal engine;

    uint256 internal constant STALENESS = 1 hours;
    uint256 internal constant FALLBACK_VOL = 1.5e8; // 150% at 8 decimals
    uint256 internal constant BASE_BPS = 500;
    uint256 internal constant MULT_BPS = 1000; // +10% margin per 1.0 volatility
    uint256 internal constant MAX_BPS = 5000;

    event InitialMarginUpdated(uint256 marginBps, uint256 volatility, bool usedFallback);

    function setUp() public override {
        super.setUp();
        engine = new MarginEngine(volA, STALENESS, FALLBACK_VOL, BASE_BPS, MULT_BPS, MAX_BPS, volA);
    }

    function test_StartsAtTheConservativeRequirement() public view {
        assertEq(engine.initialMarginBps(), BASE_BPS + 1500); // 5% + 1.5 * 10%
        (uint256 margin,, bool usedFallback) = engine.quote(); // no round yet: feed reverts
        assertTrue(usedFallback);
        assertEq(margin, 2000);
    }

    function test_UsesFreshVolatility() public {
        submitValues(ONE * 3 / 4, ONE, 10); // 0.75 volatility
        vm.expectEmit(address(engine));
        emit InitialMarginUpdated(1250, 0.75e8, false); // 5% + 0.75 * 10%
        assertEq(engine.updateInitialMargin(), 1250);
        assertEq(engine.initialMarginBps(), 1250);
        assertEq(engine.requiredCollateral(1_000_000e6), 125_000e6);
    }

    function test_FallsBackWhenStale() public {
        submitValues(ONE * 3 / 4, ONE, 0);
        vm.warp(block.timestamp + STALENESS + 1);
        (uint256 margin, uint256 volatility, bool usedFallback) = engine.quote();
        assertTrue(usedFallback);
        assertEq(volatility, FALLBACK_VOL);
        assertEq(margin, 2000);
    }

    function test_FallsBackOnNonPositiveVolatility() public {
        submitValues(0, ONE, 0);
        (,, bool usedFallback) = engine.quote();
        assertTrue(usedFallback);
    }

    function test_ClampsAtMaximum() public {
        submitValues(ONE * 5, ONE, 0); // 5.0 volatility -> 5% + 50% > 50% cap
        (uint256 margin,,) = engine.quote();
        assertEq(margin, MAX_BPS);
    }

    function test_RevertWhen_ParametersInvalid() public {
        vm.expectRevert(MarginEngine.InvalidMarginParameters.selector);
        new MarginEngine(volA, STALENESS, FALLBACK_VOL, 600, MULT_BPS, 500, volA);
    }

    function test_ReadsTheBacktestThroughTheAdapter() public view {
        assertEq(address(engine.backtestSource()), address(volA));
        assertEq(engine.plusFactorPercent(), 0); // no scored day yet: green
    }

    function test_PlusFactorFollowsTheZone() public {
        BacktestStub stub = new BacktestStub();
        MarginEngine scaled = new MarginEngine(volA, STALENESS, FALLBACK_VOL, BASE_BPS, MULT_BPS, MAX_BPS, stub);
        submitValues(ONE * 3 / 4, ONE, 10); // 0.75 volatility: 750 bps of volatility margin
        (uint256 green,,) = scaled.quote();
        assertEq(green, 1250);
        stub.set(1, 5, false);
        assertEq(scaled.plusFactorPercent(), 40);
        (uint256 yellow,,) = scaled.quote();
        assertEq(yellow, 500 + 750 * 340 / 300);
        stub.set(1, 7, false);
        assertEq(scaled.plusFactorPercent(), 65);
        stub.set(1, 9, false);
        assertEq(scaled.plusFactorPercent(), 85);
        stub.set(2, 12, false);
        assertEq(scaled.plusFactorPercent(), 100);
        (uint256 red,,) = scaled.quote();
        assertEq(red, 500 + 1000); // 750 x 4/3
        stub.set(0, 0, true); // an unreadable track record counts as red
        assertEq(scaled.plusFactorPercent(), 100);
    }

    function testFuzz_MarginStaysWithinBaseAndCap(uint256 volatility) public view {
        uint256 margin = engine.marginFor(volatility);
        assertGe(margin, BASE_BPS);
        assertLe(margin, MAX_BPS);
    }
}
