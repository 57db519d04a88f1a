// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ReusableVerifierDouble
/// @notice Test double of EZKL's Halo2VerifierReusable for forge tests (the real verifier is
///         generated per circuit and exercised by the Python integration test). It reproduces
///         the real contract's interface, its raw return layout (success, vka digest, byte length
///         of values, values) without ABI offset, and its reverts: unregistered VKA, instance
///         outside the field, invalid proof. A proof is "valid" iff it equals `proofFor(instances)`.
contract ReusableVerifierDouble {
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    mapping(bytes32 => bool) public registeredVkas;
    /// @notice When nonzero, reported instead of the real digest (simulates a foreign VKA).
    bytes32 public digestOverride;

    function registerVka(bytes32[] memory vka) public returns (bytes32 digest) {
        digest = keccak256(abi.encodePacked(vka));
        registeredVkas[digest] = true;
    }

    function setDigestOverride(bytes32 digest) external {
        digestOverride = digest;
    }

    /// @notice The only proof this double accepts for `instances`.
    function proofFor(uint256[] memory instances) public pure returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encode("proof", instances)));
    }

    function verifyProof(bytes calldata proof, uint256[] calldata instances, bytes32[] memory vka)
        external
        view
        returns (bool)
    {
        bytes32 digest = keccak256(abi.encodePacked(vka));
        require(registeredVkas[digest], "VKA not registered");
        bool valid = keccak256(proof) == keccak256(proofFor(instances));
        for (uint256 i; i < instances.length; ++i) {
            valid = valid && instances[i] < R;
        }
        if (!valid) {
            assembly {
                revert(0, 0)
            }
        }
        if (digestOverride != bytes32(0)) digest = digestOverride;
        uint256 n = instances.length > 2 ? instances.length - 2 : 0;
        bytes memory out = abi.encodePacked(uint256(1), digest, n * 32);
        for (uint256 i; i < n; ++i) {
            out = abi.encodePacked(out, instances[i + 2]);
        }
        assembly {
            return(add(out, 0x20), mload(out))
        }
    }
}
