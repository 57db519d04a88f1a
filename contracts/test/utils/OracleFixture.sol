// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {RiskOracle} from "../../src/RiskOracle.sol";
import {RiskFeedAdapter} from "../../src/RiskFeedAdapter.sol";
import {SignedFixedPoint} from "../../src/SignedFixedPoint.sol";
import {VerifierDouble} from "./VerifierDouble.sol";

/// @notice A K=2, J=2, scale-13 oracle on the verifier double with two feeds and one model.
abstract contract OracleFixture is Test {
    uint256 internal constant K = 2;
    uint256 internal constant J = 2;
    uint8 internal constant SCALE = 13;
    int256 internal constant ONE = int256(1) << SCALE; // 1.0 in fixed point
    bytes32 internal constant FEED_A = keccak256("ETH-VOL"); // output 0, 8 decimals
    bytes32 internal constant FEED_B = keccak256("BTC-MARGIN"); // output 1, 18 decimals
    bytes32 internal constant MODEL = bytes32(uint256(0x1234));
    uint256 internal constant MAX_AGE = 1 hours;

    VerifierDouble internal verifier;
    RiskOracle internal oracle;
    RiskFeedAdapter internal adapterA;
    RiskFeedAdapter internal adapterB;
    uint256 internal nextCommitment = 1;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        verifier = new VerifierDouble();
        oracle = new RiskOracle(address(verifier), K, J, SCALE, address(this));
        oracle.configureFeed(FEED_A, configA(), "ETH 1d volatility");
        oracle.configureFeed(FEED_B, configB(), "BTC initial margin");
        oracle.registerModel(MODEL, 7, 2500, keccak256("metrics"), 0);
        oracle.setTransmitter(address(this), true);
        adapterA = new RiskFeedAdapter(oracle, FEED_A);
        adapterB = new RiskFeedAdapter(oracle, FEED_B);
    }

    /// @dev Volatility in [0, 5.0] at 8 decimals, max change 1.0, no minimum delay.
    function configA() internal pure returns (RiskOracle.FeedConfig memory) {
        return RiskOracle.FeedConfig({
            minAnswer: 0,
            maxAnswer: 5e8,
            maxDelta: 1e8,
            minDelay: 0,
            maxAge: uint32(MAX_AGE),
            outputIndex: 0,
            decimals: 8,
            enabled: true
        });
    }

    /// @dev Signed value in [-10, 10] at 18 decimals, any change, 60 s minimum delay.
    function configB() internal pure returns (RiskOracle.FeedConfig memory) {
        return RiskOracle.FeedConfig({
            minAnswer: -10e18,
            maxAnswer: 10e18,
            maxDelta: type(uint128).max,
            minDelay: 60,
            maxAge: uint32(MAX_AGE),
            outputIndex: 1,
            decimals: 18,
            enabled: true
        });
    }

    function feeds() internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](2);
        (ids[0], ids[1]) = (FEED_A, FEED_B);
    }

    /// @dev Instances for a K=2 report: slot 0 carries (a, 0), slot 1 carries (0, b).
    function instancesFor(uint256 commitment, bytes32 model, int256 a, int256 b)
        internal
        pure
        returns (uint256[] memory inst)
    {
        inst = new uint256[](2 + K * J);
        inst[0] = commitment;
        inst[1] = uint256(model);
        inst[2] = SignedFixedPoint.fromSigned(a); // feed 0, output 0 -> FEED_A
        inst[2 + J + 1] = SignedFixedPoint.fromSigned(b); // feed 1, output 1 -> FEED_B
    }

    /// @dev The proof the verifier double accepts for `inst` (same as its `proofFor`, computed
    ///      locally so it is not the "next call" after `vm.expectRevert`).
    function proofOf(uint256[] memory inst) internal pure returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encode("proof", inst)));
    }

    /// @dev Submits a valid report with a fresh commitment, observed `age` seconds ago.
    function submitValues(int256 a, int256 b, uint256 age) internal returns (uint256) {
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, a, b);
        return oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp - age));
    }
}
