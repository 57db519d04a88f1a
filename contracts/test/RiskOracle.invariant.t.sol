// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {SignedFixedPoint} from "../src/SignedFixedPoint.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

/// @notice Drives the oracle with random reports: active, unregistered and retired models, any
///         number of attester signatures (some from a stranger), in- and out-of-bounds values,
///         old and stale observations, tampered proofs, and time passing. It keeps its own
///         model of the cumulative-change windows to check the oracle against.
contract OracleHandler is Test {
    struct Accepted {
        uint256 roundId;
        int256 answer; // output 0, fixed point
        uint256 acceptedAt;
        uint256 observedAt;
    }

    RiskOracle internal immutable oracle;
    bytes32 internal immutable feed; // slot 0; slot 1 stays empty
    bytes32[3] internal models; // active, never registered, retired
    uint256[] internal keys; // attesters 0..3, then a stranger
    uint256 internal nextCommitment = 1_000_000;
    uint256 internal immutable window;

    uint256 public accepted;
    uint256 public rejected;
    uint256 public acceptedFromInactiveModel;
    uint256 public acceptedTampered;
    uint256 public acceptedUnderSigned;
    Accepted[] internal history;

    constructor(RiskOracle oracle_, bytes32 feed_, bytes32 active, bytes32 retired, uint256[] memory keys_) {
        oracle = oracle_;
        feed = feed_;
        models = [active, bytes32(uint256(0xdead)), retired];
        keys = keys_;
        (,, uint32 window_,,,) = oracle_.feeds(feed_);
        window = window_;
    }

    /// @dev Mostly valid reports near the last value, with each fault at a modest rate so that
    ///      runs see both accepted and rejected reports: another model (1 in 4), a tampered proof
    ///      (1 in 8), a stranger's signature (1 in 8), any subset of attesters, an old observation
    ///      (1 in 8), a value anywhere in [-1, 7] (1 in 4) or within +-1.5 of the last one.
    function submit(uint256 modelSeed, int256 value, uint256 age, uint8 signerMask, uint256 faults) external {
        bytes32 model = models[modelSeed % 8 < 6 ? 0 : modelSeed % 8 - 5];
        bool tamper = faults % 8 == 0;
        int256 one = int256(1) << 13;
        value = faults % 4 == 1 || history.length == 0
            ? bound(value, -one, 7 * one)
            : history[history.length - 1].answer + bound(value, -one * 3 / 2, one * 3 / 2);
        age = (faults >> 3) % 8 == 0 ? bound(age, 0, 2 hours) : bound(age, 0, 5 minutes);
        (uint256[] memory inst, bytes memory proof) = proved(model, value, tamper);
        RiskOracle.Report memory report = reportFor(uint32(block.timestamp - age));
        (bytes[] memory sigs, uint256 honest) =
            signatures(oracle.reportDigest(report, inst[0]), (faults >> 6) % 8 == 0 ? signerMask : signerMask & 0x0f);
        bool active = oracle.isActive(model);
        try oracle.submit(report, proof, inst, sigs) {
            ++accepted;
            if (!active) ++acceptedFromInactiveModel;
            if (tamper) ++acceptedTampered;
            if (honest < oracle.threshold()) ++acceptedUnderSigned;
            history.push(Accepted(oracle.latestRoundId(feed), value, block.timestamp, report.observedAt[0]));
        } catch {
            ++rejected;
        }
    }

    /// @dev Instances (fresh commitment, `model`, `value` in slot 0) and the double's proof.
    function proved(bytes32 model, int256 value, bool tamper)
        internal
        returns (uint256[] memory inst, bytes memory proof)
    {
        inst = new uint256[](6);
        inst[0] = nextCommitment++;
        inst[1] = uint256(model);
        inst[2] = SignedFixedPoint.fromSigned(value);
        proof = abi.encodePacked(keccak256(abi.encode("proof", inst)));
        if (tamper) proof[0] ^= 0x01;
    }

    /// @dev A report of `feed` in slot 0 observed at `observedAt`; slot 1 empty.
    function reportFor(uint32 observedAt) internal view returns (RiskOracle.Report memory report) {
        report.configVersion = oracle.configVersion();
        report.feedIds = new bytes32[](2);
        report.feedIds[0] = feed;
        report.observedAt = new uint32[](2);
        report.observedAt[0] = observedAt;
        report.validUntil = uint32(block.timestamp + 5 minutes);
        report.previousObservedAt = new uint32[](2);
        report.realizedReturn = new int32[](2);
    }

    /// @dev Signatures of the keys selected by `mask`; `honest` counts the attesters among them.
    function signatures(bytes32 digest, uint8 mask) internal view returns (bytes[] memory sigs, uint256 honest) {
        uint256 count;
        for (uint256 i; i < keys.length; ++i) {
            if (mask & (1 << i) != 0) ++count;
        }
        sigs = new bytes[](count);
        count = 0;
        for (uint256 i; i < keys.length; ++i) {
            if (mask & (1 << i) == 0) continue;
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs[count++] = abi.encodePacked(r, s, v);
            if (i < keys.length - 1) ++honest;
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 6 hours));
    }

    function historyLength() external view returns (uint256) {
        return history.length;
    }

    function acceptedAt(uint256 i) external view returns (Accepted memory) {
        return history[i];
    }

    /// @notice Largest |answer - window opening value| over all accepted rounds, with windows
    ///         recomputed here from acceptance times (the README's semantics): a window opens at
    ///         the first round and at the first round accepted after the previous one closed, its
    ///         opening value being the answer in force then (the first round's own answer).
    function worstWindowMove() external view returns (uint256 worst) {
        uint256 start;
        int256 anchor;
        for (uint256 i; i < history.length; ++i) {
            Accepted memory h = history[i];
            if (i == 0 || h.acceptedAt >= start + window) {
                start = h.acceptedAt;
                anchor = i == 0 ? h.answer : history[i - 1].answer;
            }
            int256 d = h.answer - anchor;
            uint256 move = uint256(d < 0 ? -d : d);
            if (move > worst) worst = move;
        }
    }
}

contract RiskOracleInvariantTest is OracleFixture {
    OracleHandler internal handler;
    uint32 internal constant WINDOW = 1 days;
    uint32 internal constant MAX_WINDOW_DELTA = uint32(uint256(ONE) * 3 / 2);

    function setUp() public override {
        super.setUp();
        bytes32 retired = bytes32(uint256(0xbeef));
        oracle.registerModel(retired, 1, 0, 0, 0, bytes32(0), 0);
        oracle.retireModel(retired);
        oracle.setPermissionless(true);
        RiskOracle.FeedConfig memory config = configA();
        config.window = WINDOW;
        RiskOracle.Limits[] memory lim = limitsA();
        lim[0].maxWindowDelta = MAX_WINDOW_DELTA;
        lim[1].maxWindowDelta = MAX_WINDOW_DELTA;
        oracle.configureFeed(FEED_A, config, lim, "windowed");
        handler = new OracleHandler(oracle, FEED_A, MODEL, retired, keysWithStranger());
        targetContract(address(handler));
    }

    /// @dev The handler reaches both outcomes, so the invariants are not vacuous.
    function test_HandlerAcceptsValidAndRejectsInvalidReports() public {
        int256 one = ONE;
        uint256 ok = 1; // faults: not tampered, near value, recent, attesters only
        handler.submit(0, 0, 0, 0x05, ok); // active model, attesters 0 and 2, value 1.0: accepted
        vm.warp(block.timestamp + 120);
        handler.submit(6, 0, 0, 0x05, ok); // never-registered model
        handler.submit(7, 0, 0, 0x05, ok); // retired model
        handler.submit(0, 0, 0, 0x05, 0x08); // tampered proof (faults % 8 == 0)
        handler.submit(0, 7 * one, 0, 0x05, 0x05); // value 7.0: out of bounds
        handler.submit(0, 0, 0, 0x11, ok); // attester 0 + a stranger only
        handler.submit(0, 0, 0, 0x01, ok); // one signature
        assertEq(handler.accepted(), 1);
        assertEq(handler.rejected(), 6);
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_ValuesNeverLeaveBounds() public view {
        for (uint256 i; i < handler.historyLength(); ++i) {
            int256 answer = handler.acceptedAt(i).answer;
            assertGe(answer, 0);
            assertLe(answer, 5 * ONE);
        }
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_NoSequenceInsideOneWindowMovesMoreThanTheLimit() public view {
        assertLe(handler.worstWindowMove(), MAX_WINDOW_DELTA);
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_RoundsAndObservationsStrictlyIncrease() public view {
        uint256 n = handler.historyLength();
        for (uint256 i = 1; i < n; ++i) {
            OracleHandler.Accepted memory prev = handler.acceptedAt(i - 1);
            OracleHandler.Accepted memory next = handler.acceptedAt(i);
            assertGt(next.roundId, prev.roundId);
            assertGt(next.observedAt, prev.observedAt);
        }
        assertEq(oracle.reportCount(), handler.accepted());
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_NothingUnregisteredTamperedOrUnderSignedIsAccepted() public view {
        assertEq(handler.acceptedFromInactiveModel(), 0);
        assertEq(handler.acceptedTampered(), 0);
        assertEq(handler.acceptedUnderSigned(), 0);
        for (uint256 id = 1; id <= oracle.reportCount(); ++id) {
            (, bytes32 model,,) = oracle.reportOf(id);
            assertEq(model, MODEL);
        }
    }
}
