// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title SignedFixedPoint
/// @notice Decodes EZKL public instances (BN254 scalar-field elements) into signed fixed-point
///         integers: a negative value x is encoded in the field as R - |x|.
library SignedFixedPoint {
    /// @notice Order of the BN254 scalar field.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice The instance is not a canonical field element (>= R).
    error NotAFieldElement(uint256 value);

    /// @notice Signed integer encoded by field element `felt`.
    function toSigned(uint256 felt) internal pure returns (int256) {
        if (felt >= R) revert NotAFieldElement(felt);
        if (felt > R / 2) return -int256(R - felt);
        return int256(felt);
    }

    /// @notice Field encoding of signed integer `value` (inverse of `toSigned`).
    function fromSigned(int256 value) internal pure returns (uint256) {
        if (value >= 0) return uint256(value);
        return R - uint256(-value);
    }
}
