// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Script} from "forge-std/Script.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {RiskFeedAdapter} from "../src/RiskFeedAdapter.sol";

/// @notice Deploys a RiskOracle pinned to an existing reusable verifier, plus one adapter per
///         feed id. Feeds, models and transmitters are then configured by the admin.
/// @dev Environment: VERIFIER (address), VKA_HEX (the VKA words concatenated, 0x-hex; e.g.
///      `"0x" + b"".join(circuits.evm.read_vka_words(artifacts)).hex()`), FEEDS_PER_REPORT,
///      OUTPUTS_PER_FEED, OUTPUT_SCALE, ADMIN, FEED_NAMES (comma-separated, hashed to feed ids).
///      Run: forge script script/DeployRiskOracle.s.sol --rpc-url $RPC --broadcast
contract DeployRiskOracle is Script {
    error VkaNotWordAligned(uint256 length);

    function run() external returns (RiskOracle oracle, RiskFeedAdapter[] memory adapters) {
        bytes memory raw = vm.envBytes("VKA_HEX");
        if (raw.length == 0 || raw.length % 32 != 0) revert VkaNotWordAligned(raw.length);
        bytes32[] memory vka = new bytes32[](raw.length / 32);
        for (uint256 i; i < vka.length; ++i) {
            bytes32 word;
            assembly {
                word := mload(add(add(raw, 0x20), mul(i, 0x20)))
            }
            vka[i] = word;
        }
        string[] memory names = vm.envString("FEED_NAMES", ",");

        vm.startBroadcast();
        oracle = new RiskOracle(
            vm.envAddress("VERIFIER"),
            vka,
            vm.envUint("FEEDS_PER_REPORT"),
            vm.envUint("OUTPUTS_PER_FEED"),
            uint8(vm.envUint("OUTPUT_SCALE")),
            vm.envAddress("ADMIN")
        );
        adapters = new RiskFeedAdapter[](names.length);
        for (uint256 i; i < names.length; ++i) {
            adapters[i] = new RiskFeedAdapter(oracle, keccak256(bytes(names[i])));
        }
        vm.stopBroadcast();
    }
}
