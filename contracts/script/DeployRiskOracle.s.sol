// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Script} from "forge-std/Script.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {RiskFeedAdapter} from "../src/RiskFeedAdapter.sol";

/// @notice Deploys a RiskOracle pinned to an existing circuit verifier, plus one adapter per
///         feed id. Feeds, models and transmitters are then configured by the admin.
/// @dev Environment: VERIFIER (address of the circuit's EZKL Halo2Verifier), FEEDS_PER_REPORT,
///      OUTPUTS_PER_FEED, OUTPUT_SCALE, HISTORY_REPORTS (optional, default 4096: reports whose
///      rounds stay readable by id), VAR_OUTPUT (optional, default 1: the backtested VaR output;
///      255: none), ADMIN, GOVERNANCE_DELAY (optional, default 2 days: how long a queued
///      trust-relevant change waits), FEED_NAMES (comma-separated, hashed to feed ids);
///      per feed, one adapter of the VaR output ("<name> 1-day 99% VaR (%)") and three of each
///      log-volatility output: raw ("<name> daily log volatility (ln %)"), daily volatility
///      ("<name> daily volatility (%)") and annualised ("<name> annualised volatility (%)"),
///      in that order (RiskFeedAdapter kinds 0, 1, 2). The admin then configures attesters, feeds, models,
///      transmitters and registers these adapters (`setAdapter`): at once until the first report
///      is accepted, after it only through `queue` and the delay.
///      Run: forge script script/DeployRiskOracle.s.sol --rpc-url $RPC --broadcast
contract DeployRiskOracle is Script {
    function run() external returns (RiskOracle oracle, RiskFeedAdapter[] memory adapters) {
        string[] memory names = vm.envString("FEED_NAMES", ",");

        vm.startBroadcast();
        oracle = new RiskOracle(
            vm.envAddress("VERIFIER"),
            vm.envUint("FEEDS_PER_REPORT"),
            vm.envUint("OUTPUTS_PER_FEED"),
            uint8(vm.envUint("OUTPUT_SCALE")),
            vm.envOr("HISTORY_REPORTS", uint256(4096)),
            uint8(vm.envOr("VAR_OUTPUT", uint256(1))),
            vm.envAddress("ADMIN"),
            vm.envOr("GOVERNANCE_DELAY", uint256(2 days))
        );
        uint256 outputs = oracle.outputsPerFeed();
        uint256 varOutput = oracle.varOutput();
        // Per feed: the VaR adapter, and three per log-volatility output (raw, daily %, annualised %).
        uint256 perFeed = varOutput < outputs ? 3 * outputs - 2 : 3 * outputs;
        adapters = new RiskFeedAdapter[](names.length * perFeed);
        uint256 n;
        for (uint256 i; i < names.length; ++i) {
            bytes32 id = keccak256(bytes(names[i]));
            for (uint256 j; j < outputs; ++j) {
                if (j == varOutput) {
                    adapters[n++] = new RiskFeedAdapter(oracle, id, j, 0, string.concat(names[i], " 1-day 99% VaR (%)"));
                    continue;
                }
                adapters[n++] =
                    new RiskFeedAdapter(oracle, id, j, 0, string.concat(names[i], " daily log volatility (ln %)"));
                adapters[n++] = new RiskFeedAdapter(oracle, id, j, 1, string.concat(names[i], " daily volatility (%)"));
                adapters[n++] =
                    new RiskFeedAdapter(oracle, id, j, 2, string.concat(names[i], " annualised volatility (%)"));
            }
        }
        vm.stopBroadcast();
    }
}
