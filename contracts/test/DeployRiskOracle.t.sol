// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {DeployRiskOracle} from "../script/DeployRiskOracle.s.sol";
import {RiskOracle} from "../src/RiskOracle.sol";
import {RiskFeedAdapter} from "../src/RiskFeedAdapter.sol";
import {VerifierDouble} from "./utils/VerifierDouble.sol";

/// @notice The deployment script: per feed one VaR adapter and three of the log volatility
///         (raw, daily %, annualised %), each described by its unit.
contract DeployRiskOracleScriptTest is Test {
    function test_DeploysEveryAdapterKindWithItsDescription() public {
        vm.setEnv("VERIFIER", vm.toString(address(new VerifierDouble())));
        vm.setEnv("FEEDS_PER_REPORT", "2");
        vm.setEnv("OUTPUTS_PER_FEED", "2");
        vm.setEnv("OUTPUT_SCALE", "13");
        vm.setEnv("ADMIN", vm.toString(address(this)));
        vm.setEnv("FEED_NAMES", "sp500,ETH");
        (RiskOracle oracle, RiskFeedAdapter[] memory adapters) = new DeployRiskOracle().run();
        assertEq(adapters.length, 8);
        string[4] memory suffixes = [
            " daily log volatility (ln %)", " daily volatility (%)", " annualised volatility (%)", " 1-day 99% VaR (%)"
        ];
        uint8[4] memory kinds = [0, 1, 2, 0];
        uint256[4] memory outputs = [uint256(0), 0, 0, 1];
        string[2] memory names = ["sp500", "ETH"];
        for (uint256 i; i < 8; ++i) {
            RiskFeedAdapter a = adapters[i];
            assertEq(address(a.oracle()), address(oracle));
            assertEq(a.feedId(), keccak256(bytes(names[i / 4])));
            assertEq(a.description(), string.concat(names[i / 4], suffixes[i % 4]));
            assertEq(a.kind(), kinds[i % 4]);
            assertEq(a.outputIndex(), outputs[i % 4]);
        }
    }
}
