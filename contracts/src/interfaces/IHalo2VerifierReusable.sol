// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IHalo2VerifierReusable
/// @notice The two entry points of EZKL's reusable Halo2 verifier that the oracle uses.
/// @dev `verifyProof` does NOT return ABI-encoded data as declared by EZKL: its assembly writes
///      (success, vkaDigest, byte length of rescaled values, values...) without an offset word.
///      Call it with a low-level `call` and read the first two words (see RiskOracle).
interface IHalo2VerifierReusable {
    /// @notice Registers a verifying-key artifact; callable by anyone.
    function registerVka(bytes32[] calldata vka) external returns (bytes32);

    /// @notice Verifies `proof` against `instances` with the registered artifact `vka`.
    function verifyProof(bytes calldata proof, uint256[] calldata instances, bytes32[] calldata vka)
        external
        returns (bool);
}
