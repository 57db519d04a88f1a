// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {SignedFixedPoint} from "../src/SignedFixedPoint.sol";

contract SignedFixedPointHarness {
    function toSigned(uint256 felt) external pure returns (int256) {
        return SignedFixedPoint.toSigned(felt);
    }
}

contract SignedFixedPointTest is Test {
    SignedFixedPointHarness internal h = new SignedFixedPointHarness();

    function test_DecodesPositiveAndNegative() public view {
        assertEq(h.toSigned(1165), 1165);
        // An EZKL output of -0.30053... at scale 2^13 (-2462) is written as R - 2462.
        assertEq(h.toSigned(SignedFixedPoint.R - 2462), -2462);
        assertEq(h.toSigned(0), 0);
    }

    function test_RevertWhen_NotAFieldElement() public {
        vm.expectRevert(abi.encodeWithSelector(SignedFixedPoint.NotAFieldElement.selector, SignedFixedPoint.R));
        h.toSigned(SignedFixedPoint.R);
    }

    function testFuzz_RoundTrip(int128 value) public view {
        assertEq(h.toSigned(SignedFixedPoint.fromSigned(value)), int256(value));
    }
}
