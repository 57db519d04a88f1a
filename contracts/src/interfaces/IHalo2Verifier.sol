// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IHalo2Verifier
/// @notice The entry point of the EZKL Halo2 verifier generated for one circuit (its verifying key
///         compiled in). It returns true for a valid proof and reverts otherwise, including when an
///         instance is not below the BN254 scalar-field order.
interface IHalo2Verifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool);
}
