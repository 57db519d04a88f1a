// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

/// @notice An independent model of the VaR backtest: every scored day's outcome in an array,
///         the window counted by walking back over it, the zone from the binomial tail itself.
library BacktestModel {
    uint256 internal constant WAD = 1e18;
    /// @dev Basel's tails at 250 days, P(X >= 5) and P(X >= 10) for X ~ Bin(250, 1 %), rounded up
    ///      so that the boundary itself counts (at 250 days the tail equals them exactly).
    uint256 internal constant YELLOW_TAIL = 107812373096374900;
    uint256 internal constant RED_TAIL = 250190068740508;

    /// @dev P(X >= x) for X ~ Bin(n, 1 %), in WAD.
    function tail(uint256 n, uint256 x) internal pure returns (uint256) {
        if (x == 0) return WAD;
        if (x > n) return 0;
        uint256 pmf = WAD; // P(X = 0) = 0.99^n
        for (uint256 i; i < n; ++i) {
            pmf = pmf * 99 / 100;
        }
        uint256 below = 0; // P(X < x)
        for (uint256 k; k < x; ++k) {
            below += pmf;
            pmf = pmf * (n - k) / ((k + 1) * 99);
        }
        return below >= WAD ? 0 : WAD - below;
    }

    function zone(uint256 n, uint256 breaches) internal pure returns (uint8) {
        if (breaches == 0) return 0;
        uint256 t = tail(n, breaches);
        // 1e-12 of slack for the fixed-point rounding at the 250-day boundaries.
        if (t <= RED_TAIL + 1e6) return 2;
        if (t <= YELLOW_TAIL + 1e6) return 1;
        return 0;
    }
}

/// @notice Unit, fuzz and model tests of RiskOracle's VaR backtest ledger (FEED_B, output 1).
contract RiskOracleBacktestTest is OracleFixture {
    uint32 internal lastObserved;
    bool[] internal outcomes; // the model: every scored day's breach flag, oldest first
    uint256 internal gapCount;

    event VaRBreached(bytes32 indexed feedId, uint256 indexed roundId, int256 realizedReturn, int256 valueAtRisk);
    event BacktestGap(
        bytes32 indexed feedId, uint256 indexed roundId, uint256 previousObservedAt, uint256 lastObservedAt
    );

    /// @dev Publishes one day of FEED_B a day after the last: VaR `valueAtRisk` for the next day,
    ///      and the realised return `realized` of the day that closed (scored against the VaR
    ///      published the day before when `consecutive`).
    function day(int256 valueAtRisk, int256 realized, bool consecutive) internal returns (uint256 reportId) {
        vm.warp(block.timestamp + 1 days);
        uint32 t = uint32(block.timestamp - 10);
        bytes32[] memory ids = new bytes32[](2);
        ids[1] = FEED_B;
        RiskOracle.Report memory report = reportOf(ids, times(0, t));
        report.previousObservedAt[1] = consecutive ? lastObserved : lastObserved - 1;
        report.realizedReturn[1] = int32(realized);
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, 0, 0, ONE, valueAtRisk);
        reportId = oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, inst[0]));
        lastObserved = t;
    }

    function ledger() internal view returns (RiskOracle.Backtest memory) {
        return oracle.backtest(FEED_B);
    }

    function test_FirstRoundIsNotScored() public {
        day(2 * ONE, -5 * ONE, true);
        RiskOracle.Backtest memory b = ledger();
        assertEq(b.lifetimeScoredDays, 0);
        assertEq(b.gaps, 0);
        assertEq(b.zone, oracle.ZONE_GREEN());
    }

    function test_ScoresTheVaRPublishedTheDayBefore() public {
        day(2 * ONE, 0, true); // VaR 2 % for tomorrow
        day(9 * ONE, -ONE, true); // -1 %: within yesterday's 2 %
        assertEq(ledger().lifetimeScoredDays, 1);
        assertEq(ledger().lifetimeBreaches, 0);
        uint256 roundId = (uint256(oracle.reportCount()) + 1) << 8 | 1;
        vm.expectEmit(address(oracle));
        emit VaRBreached(FEED_B, roundId, -ONE * 10, 9 * ONE);
        day(ONE, -ONE * 10, true); // -10 %: beyond yesterday's 9 %
        RiskOracle.Backtest memory b = ledger();
        assertEq(b.lifetimeScoredDays, 2);
        assertEq(b.lifetimeBreaches, 1);
        assertEq(b.breaches, 1);
        assertEq(b.scoredDays, 2);
    }

    function test_LossEqualToTheVaRIsNoBreach() public {
        day(2 * ONE, 0, true);
        day(2 * ONE, -2 * ONE, true);
        assertEq(ledger().lifetimeBreaches, 0);
        day(2 * ONE, -2 * ONE - 1, true);
        assertEq(ledger().lifetimeBreaches, 1);
    }

    function test_NonConsecutiveDayIsAGapNotAScore() public {
        day(ONE, 0, true);
        uint32 previous = lastObserved;
        uint256 roundId = (uint256(oracle.reportCount()) + 1) << 8 | 1;
        vm.expectEmit(address(oracle));
        emit BacktestGap(FEED_B, roundId, previous - 1, previous);
        day(ONE, -9 * ONE, false); // would be a breach, but a day is missing
        RiskOracle.Backtest memory b = ledger();
        assertEq(b.gaps, 1);
        assertEq(b.lifetimeScoredDays, 0);
        assertEq(b.lifetimeBreaches, 0);
    }

    function test_RevertWhen_SignaturesExpired() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[1] = FEED_B;
        RiskOracle.Report memory report = reportOf(ids, times(0, block.timestamp - 10));
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, 0, 0, ONE, ONE);
        bytes[] memory sigs = signBy(quorum(), report, inst[0]);
        vm.warp(uint256(report.validUntil) + 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportExpired.selector, report.validUntil, block.timestamp));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_ValidUntilChangedAfterSigning() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[1] = FEED_B;
        RiskOracle.Report memory report = reportOf(ids, times(0, block.timestamp - 10));
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, 0, 0, ONE, ONE);
        bytes[] memory sigs = signBy(quorum(), report, inst[0]);
        report.validUntil += 1 days; // the transmitter stretches the signatures' life
        vm.expectRevert(); // recovers other signers: UnknownSigner
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_RealizedReturnChangedAfterSigning() public {
        day(ONE, 0, true);
        bytes32[] memory ids = new bytes32[](2);
        ids[1] = FEED_B;
        vm.warp(block.timestamp + 1 days);
        RiskOracle.Report memory report = reportOf(ids, times(0, block.timestamp - 10));
        report.previousObservedAt[1] = lastObserved;
        report.realizedReturn[1] = -int32(5 * ONE);
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, 0, 0, ONE, ONE);
        bytes[] memory sigs = signBy(quorum(), report, inst[0]);
        report.realizedReturn[1] = 0; // hide the breach
        vm.expectRevert();
        oracle.submit(report, proofOf(inst), inst, sigs);
        assertEq(ledger().lifetimeScoredDays, 0);
    }

    function test_ZoneAt250DaysIsBasels() public view {
        assertEq(oracle.zoneOf(250, 0), 0);
        assertEq(oracle.zoneOf(250, 4), 0);
        assertEq(oracle.zoneOf(250, 5), 1);
        assertEq(oracle.zoneOf(250, 9), 1);
        assertEq(oracle.zoneOf(250, 10), 2);
        assertEq(oracle.zoneOf(30, 1), 0);
        assertEq(oracle.zoneOf(30, 2), 1);
        assertEq(oracle.zoneOf(30, 4), 2);
    }

    function testFuzz_ZoneMatchesTheBinomialTail(uint256 n, uint256 breaches) public view {
        n = bound(n, 0, 250);
        breaches = bound(breaches, 0, n < 12 ? n : 12);
        assertEq(oracle.zoneOf(n, breaches), BacktestModel.zone(n, breaches));
    }

    /// @dev Random days (breach, no breach, gap) against the model, including the window
    ///      rolling past 250 scored days (each run publishes ~300 reports: few runs).
    /// forge-config: default.fuzz.runs = 12
    function testFuzz_LedgerMatchesModel(uint256 seed) public {
        day(2 * ONE, 0, true);
        uint256 days_ = 260 + seed % 40;
        for (uint256 i; i < days_; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i))) % 100;
            bool consecutive = r >= 3;
            bool breach = r >= 3 && r < 12;
            day(2 * ONE, breach ? -3 * ONE : -ONE, consecutive);
            if (!consecutive) ++gapCount;
            else outcomes.push(breach);
        }
        assertLedgerMatchesModel();
    }

    function assertLedgerMatchesModel() internal view {
        RiskOracle.Backtest memory b = ledger();
        uint256 n = outcomes.length;
        uint256 lifetime;
        uint256 inWindow;
        for (uint256 i; i < n; ++i) {
            if (!outcomes[i]) continue;
            ++lifetime;
            if (n - i <= 250) ++inWindow;
        }
        uint256 counted = inWindow < 10 ? inWindow : 10;
        uint256 window = n < 250 ? n : 250;
        assertEq(b.lifetimeScoredDays, n, "lifetime days");
        assertEq(b.lifetimeBreaches, lifetime, "lifetime breaches");
        assertEq(b.gaps, gapCount, "gaps");
        assertEq(b.scoredDays, window, "window days");
        assertEq(b.breaches, counted, "window breaches");
        assertEq(b.zone, BacktestModel.zone(window, counted), "zone");
    }

    function test_OldBreachesLeaveTheWindow() public {
        day(2 * ONE, 0, true);
        for (uint256 i; i < 6; ++i) {
            day(2 * ONE, -3 * ONE, true);
        }
        assertEq(ledger().breaches, 6);
        assertEq(ledger().zone, oracle.ZONE_RED()); // 6 of 6 days
        for (uint256 i; i < 114; ++i) {
            day(2 * ONE, 0, true);
        }
        assertEq(ledger().zone, oracle.ZONE_YELLOW()); // 6 of 120 days
        for (uint256 i; i < 135; ++i) {
            day(2 * ONE, 0, true);
        }
        // 255 scored days: the first 5 breaches are older than the last 250.
        assertEq(ledger().scoredDays, 250);
        assertEq(ledger().breaches, 1);
        assertEq(ledger().lifetimeBreaches, 6);
        assertEq(ledger().zone, oracle.ZONE_GREEN());
    }

    function test_EmptySlotsAndOtherFeedsAreUntouched() public {
        day(2 * ONE, 0, true);
        day(2 * ONE, -3 * ONE, true);
        RiskOracle.Backtest memory a = oracle.backtest(FEED_A);
        assertEq(a.lifetimeScoredDays + a.lifetimeBreaches + a.gaps, 0);
    }
}

/// @notice Invariant: under any sequence of days (breaches, quiet days, gaps, rejected reports),
///         the ledger equals the model.
contract BacktestHandler is OracleFixture {
    uint32 public lastObserved;
    bool[] public outcomes;
    uint256 public gapCount;
    bool internal started;

    constructor() {
        setUp();
    }

    function outcomeCount() external view returns (uint256) {
        return outcomes.length;
    }

    function publish(uint256 varSeed, int256 realized, bool consecutive, uint256 wait) external {
        int256 valueAtRisk = int256(bound(varSeed, 0, uint256(5 * ONE)));
        realized = bound(realized, -10 * ONE, 10 * ONE);
        vm.warp(block.timestamp + bound(wait, 61, 2 days));
        uint32 t = uint32(block.timestamp - 10);
        bytes32[] memory ids = new bytes32[](2);
        ids[1] = FEED_B;
        RiskOracle.Report memory report = reportOf(ids, times(0, t));
        report.previousObservedAt[1] = consecutive ? lastObserved : lastObserved + 1;
        report.realizedReturn[1] = int32(realized);
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, 0, 0, ONE, valueAtRisk);
        int256 previousVar;
        if (started) {
            (,,,, int256[] memory answers) = oracle.feedRound(FEED_B, 0);
            previousVar = answers[1];
        }
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, inst[0]));
        if (started) {
            if (!consecutive) {
                ++gapCount;
            } else {
                // feedRound answers in 18 decimals; the ledger compares fixed point.
                int256 previousFixed = previousVar * ONE / 1e18;
                outcomes.push(realized < -previousFixed);
            }
        }
        started = true;
        lastObserved = t;
    }

    function backtest() external view returns (RiskOracle.Backtest memory) {
        return oracle.backtest(FEED_B);
    }
}

contract RiskOracleBacktestInvariantTest is Test {
    BacktestHandler internal handler;

    function setUp() public {
        handler = new BacktestHandler();
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](1);
        selectors[0] = BacktestHandler.publish.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 300
    function invariant_LedgerMatchesModel() public view {
        RiskOracle.Backtest memory b = handler.backtest();
        uint256 n = handler.outcomeCount();
        uint256 lifetime;
        uint256 inWindow;
        for (uint256 i; i < n; ++i) {
            if (!handler.outcomes(i)) continue;
            ++lifetime;
            if (n - i <= 250) ++inWindow;
        }
        uint256 counted = inWindow < 10 ? inWindow : 10;
        uint256 window = n < 250 ? n : 250;
        assertEq(b.lifetimeScoredDays, n);
        assertEq(b.lifetimeBreaches, lifetime);
        assertEq(b.gaps, handler.gapCount());
        assertEq(b.scoredDays, window);
        assertEq(b.breaches, counted);
        assertEq(b.zone, BacktestModel.zone(window, counted));
    }
}
