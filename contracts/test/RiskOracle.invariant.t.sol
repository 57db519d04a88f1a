// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {SignedFixedPoint} from "../src/SignedFixedPoint.sol";
import {VerifierDouble} from "./utils/VerifierDouble.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

/// @notice Drives the oracle with random reports: active, unregistered and retired models,
///         in- and out-of-bounds values, old, stale and replayed inputs, tampered proofs.
contract OracleHandler is Test {
    RiskOracle internal immutable oracle;
    bytes32[] internal feedIds;
    bytes32[3] internal models; // active, never registered, retired
    uint256 internal nextCommitment = 1_000_000;
    uint256[] internal used;

    uint256 public accepted;
    uint256 public acceptedFromInactiveModel;
    uint256 public acceptedTampered;
    uint256 public rejected;

    constructor(RiskOracle oracle_, bytes32[] memory feedIds_, bytes32 active, bytes32 retired) {
        oracle = oracle_;
        feedIds = feedIds_;
        models = [active, bytes32(uint256(0xdead)), retired];
    }

    function submit(uint256 modelSeed, int256 a, int256 b, uint256 age, uint256 reuseSeed, bool tamper) external {
        bytes32 model = models[modelSeed % 3];
        int256 one = int256(1) << 13;
        uint256[] memory inst = new uint256[](6);
        bool reuse = used.length > 0 && reuseSeed % 4 == 0;
        uint256 commitment = reuse ? used[reuseSeed % used.length] : nextCommitment++;
        inst[0] = commitment;
        inst[1] = uint256(model);
        inst[2] = SignedFixedPoint.fromSigned(bound(a, -one, 7 * one)); // bounds are [0, 5.0]
        inst[5] = SignedFixedPoint.fromSigned(bound(b, -12 * one, 12 * one)); // bounds are [-10, 10]
        bytes memory proof = abi.encodePacked(keccak256(abi.encode("proof", inst)));
        if (tamper) proof[0] ^= 0x01;
        age = bound(age, 0, 2 hours);
        bool active = oracle.isActive(model);
        try oracle.submit(proof, inst, feedIds, uint40(block.timestamp - age)) {
            ++accepted;
            if (!active) ++acceptedFromInactiveModel;
            if (tamper) ++acceptedTampered;
            used.push(commitment);
        } catch {
            ++rejected;
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 2 hours));
    }
}

contract RiskOracleInvariantTest is OracleFixture {
    OracleHandler internal handler;

    function setUp() public override {
        super.setUp();
        bytes32 retired = bytes32(uint256(0xbeef));
        oracle.registerModel(retired, 1, 0, bytes32(0), 0);
        oracle.retireModel(retired);
        oracle.setPermissionless(true);
        handler = new OracleHandler(oracle, feeds(), MODEL, retired);
        targetContract(address(handler));
    }

    /// @dev The handler reaches both outcomes, so the invariants are not vacuous.
    function test_HandlerAcceptsValidAndRejectsInvalidReports() public {
        int256 one = int256(1) << 13;
        handler.submit(0, one, one, 0, 1, false); // active model, in bounds
        handler.submit(1, one, one, 0, 1, false); // never-registered model
        handler.submit(2, one, one, 0, 1, false); // retired model
        vm.warp(block.timestamp + 120);
        handler.submit(3, one, one, 0, 1, true); // active model, tampered proof
        handler.submit(0, 7 * one, one, 0, 1, false); // out of bounds
        assertEq(handler.accepted(), 1);
        assertEq(handler.rejected(), 4);
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_ValuesNeverLeaveBounds() public view {
        bytes32[] memory ids = feeds();
        for (uint256 f; f < ids.length; ++f) {
            (int128 minAnswer, int128 maxAnswer,,,,,,) = oracle.feeds(ids[f]);
            uint80 latest = oracle.latestRoundId(ids[f]);
            for (uint80 r = 1; r <= latest; ++r) {
                int256 answer = oracle.getRound(ids[f], r).answer;
                assertGe(answer, minAnswer);
                assertLe(answer, maxAnswer);
            }
        }
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_RoundsStrictlyIncrease() public view {
        bytes32[] memory ids = feeds();
        for (uint256 f; f < ids.length; ++f) {
            uint80 latest = oracle.latestRoundId(ids[f]);
            assertEq(latest, handler.accepted()); // every accepted report adds one round per feed
            for (uint80 r = 2; r <= latest; ++r) {
                RiskOracle.Round memory prev = oracle.getRound(ids[f], r - 1);
                RiskOracle.Round memory next = oracle.getRound(ids[f], r);
                assertGt(next.observedAt, prev.observedAt);
                assertGe(next.acceptedAt, prev.acceptedAt);
                assertGt(next.reportId, prev.reportId);
            }
        }
        assertEq(oracle.reportCount(), handler.accepted());
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_NothingUnregisteredIsAccepted() public view {
        assertEq(handler.acceptedFromInactiveModel(), 0);
        assertEq(handler.acceptedTampered(), 0);
        uint256 count = oracle.reportCount();
        for (uint256 id = 1; id <= count; ++id) {
            (uint256 commitment, bytes32 model) = oracle.reports(id);
            (bool registered,,,,,) = oracle.models(model);
            assertTrue(registered);
            assertEq(model, MODEL);
            assertEq(oracle.reportOfInput(commitment), id); // each input commitment accepted once
        }
    }
}
