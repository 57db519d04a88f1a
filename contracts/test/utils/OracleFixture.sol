// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {RiskOracle} from "../../src/RiskOracle.sol";
import {RiskFeedAdapter} from "../../src/RiskFeedAdapter.sol";
import {SignedFixedPoint} from "../../src/SignedFixedPoint.sol";
import {VerifierDouble} from "./VerifierDouble.sol";

/// @notice A K=2, J=2, scale-13 oracle on the verifier double: two feeds, one model, four
///         attesters with threshold 2 (f = 1), and helpers that sign reports as they would.
abstract contract OracleFixture is Test {
    uint256 internal constant K = 2;
    uint256 internal constant J = 2;
    uint8 internal constant SCALE = 13;
    /// @dev Reports kept in the history ring (RiskOracle.historyReports) by the fixture oracle.
    uint256 internal constant HISTORY = 1024;
    int256 internal constant ONE = int256(1) << SCALE; // 1.0 in fixed point
    bytes32 internal constant FEED_A = keccak256("ETH"); // 8 decimals
    bytes32 internal constant FEED_B = keccak256("BTC"); // 18 decimals
    bytes32 internal constant MODEL = bytes32(uint256(0x1234));
    uint256 internal constant MAX_AGE = 1 hours;
    uint256 internal constant N_ATTESTERS = 4;
    uint8 internal constant THRESHOLD = 2;
    /// @dev Output 1 of each feed is the backtested VaR.
    uint8 internal constant VAR_OUTPUT = 1;
    /// @dev How long the fixture's attesters sign a report for.
    uint256 internal constant SIGNATURE_LIFETIME = 5 minutes;

    VerifierDouble internal verifier;
    RiskOracle internal oracle;
    RiskFeedAdapter internal volA; // FEED_A output 0
    RiskFeedAdapter internal varB; // FEED_B output 1
    uint256[] internal attesterKeys;
    address[] internal attesterAddrs;
    uint256 internal nextCommitment = 1;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        verifier = new VerifierDouble();
        oracle = new RiskOracle(address(verifier), K, J, SCALE, HISTORY, VAR_OUTPUT, address(this), governanceDelay());
        oracle.configureFeed(FEED_A, configA(), limitsA(), "ETH volatility and VaR");
        oracle.configureFeed(FEED_B, configB(), limitsB(), "BTC volatility and VaR");
        oracle.registerModel(MODEL, 7, 2500, 7800, 5, keccak256("metrics"), 0);
        oracle.setTransmitter(address(this), true);
        for (uint256 i; i < N_ATTESTERS; ++i) {
            (address a, uint256 key) = makeAddrAndKey(string(abi.encodePacked("attester", vm.toString(i))));
            attesterKeys.push(key);
            attesterAddrs.push(a);
        }
        oracle.setAttesters(attesterAddrs, THRESHOLD);
        volA = new RiskFeedAdapter(oracle, FEED_A, 0, 0, "ETH daily log volatility (ln %)");
        varB = new RiskFeedAdapter(oracle, FEED_B, 1, 0, "BTC 1-day 99% VaR (%)");
    }

    /// @dev The fixture oracle's governance delay (0: every admin change acts at once).
    function governanceDelay() internal pure virtual returns (uint256) {
        return 0;
    }

    /// @dev FEED_A: 8 decimals, no minimum delay, no window limit.
    function configA() internal pure returns (RiskOracle.FeedConfig memory) {
        return
            RiskOracle.FeedConfig({
                maxAge: uint32(MAX_AGE), minDelay: 0, window: 0, index: 0, decimals: 8, enabled: true
            });
    }

    /// @dev FEED_B: 18 decimals, 60 s minimum delay, no window limit.
    function configB() internal pure returns (RiskOracle.FeedConfig memory) {
        return RiskOracle.FeedConfig({
            maxAge: uint32(MAX_AGE), minDelay: 60, window: 0, index: 0, decimals: 18, enabled: true
        });
    }

    /// @dev FEED_A outputs in [0, 5.0], max change 1.0 per report.
    function limitsA() internal pure returns (RiskOracle.Limits[] memory lim) {
        lim = new RiskOracle.Limits[](2);
        for (uint256 j; j < 2; ++j) {
            lim[j] = RiskOracle.Limits({
                minAnswer: 0, maxAnswer: int32(5 * ONE), maxDelta: uint32(uint256(ONE)), maxWindowDelta: 0
            });
        }
    }

    /// @dev FEED_B outputs in [-10, 10], any change.
    function limitsB() internal pure returns (RiskOracle.Limits[] memory lim) {
        lim = new RiskOracle.Limits[](2);
        for (uint256 j; j < 2; ++j) {
            lim[j] = RiskOracle.Limits({
                minAnswer: int32(-10 * ONE), maxAnswer: int32(10 * ONE), maxDelta: type(uint32).max, maxWindowDelta: 0
            });
        }
    }

    function feeds() internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](2);
        (ids[0], ids[1]) = (FEED_A, FEED_B);
    }

    function times(uint256 a, uint256 b) internal pure returns (uint32[] memory t) {
        t = new uint32[](2);
        (t[0], t[1]) = (uint32(a), uint32(b));
    }

    /// @dev A report of `ids` observed at `observedAt`, valid for SIGNATURE_LIFETIME, with no
    ///      backtest outcome (previous close 0: never consecutive, so a gap once a feed has rounds).
    function reportOf(bytes32[] memory ids, uint32[] memory observedAt)
        internal
        view
        returns (RiskOracle.Report memory)
    {
        return RiskOracle.Report({
            configVersion: oracle.configVersion(),
            validUntil: uint32(block.timestamp + SIGNATURE_LIFETIME),
            feedIds: ids,
            observedAt: observedAt,
            previousObservedAt: new uint32[](ids.length),
            realizedReturn: new int32[](ids.length)
        });
    }

    /// @dev Instances for a K=2 report: slot 0 carries (a0, a1), slot 1 carries (b0, b1).
    function instancesFor(uint256 commitment, bytes32 model, int256 a0, int256 a1, int256 b0, int256 b1)
        internal
        pure
        returns (uint256[] memory inst)
    {
        inst = new uint256[](2 + K * J);
        inst[0] = commitment;
        inst[1] = uint256(model);
        inst[2] = SignedFixedPoint.fromSigned(a0);
        inst[3] = SignedFixedPoint.fromSigned(a1);
        inst[4] = SignedFixedPoint.fromSigned(b0);
        inst[5] = SignedFixedPoint.fromSigned(b1);
    }

    /// @dev The proof the verifier double accepts for `inst` (computed locally, so that it is not
    ///      the "next call" after `vm.expectRevert`).
    function proofOf(uint256[] memory inst) internal pure returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encode("proof", inst)));
    }

    /// @dev EIP-712 digest of `report` with `commitment` for `target`, computed independently of
    ///      the contract's own `reportDigest` (domain from its fields, chain id from the VM).
    function digestFor(RiskOracle target, RiskOracle.Report memory report, uint256 commitment)
        internal
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Proofcast RiskOracle"),
                keccak256("3"),
                block.chainid,
                address(target)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Report(uint32 configVersion,uint32 validUntil,uint256 inputCommitment,bytes32[] feedIds,uint32[] observedAt,uint32[] previousObservedAt,int32[] realizedReturn)"
                ),
                report.configVersion,
                report.validUntil,
                commitment,
                keccak256(abi.encodePacked(report.feedIds)),
                keccak256(abi.encodePacked(report.observedAt)),
                keccak256(abi.encodePacked(report.previousObservedAt)),
                keccak256(abi.encodePacked(report.realizedReturn))
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signatures of attesters `who` (indices) over `report` + `commitment` on `oracle`.
    function signBy(uint256[] memory who, RiskOracle.Report memory report, uint256 commitment)
        internal
        view
        returns (bytes[] memory sigs)
    {
        bytes32 digest = digestFor(oracle, report, commitment);
        sigs = new bytes[](who.length);
        for (uint256 i; i < who.length; ++i) {
            sigs[i] = sign(attesterKeys[who[i]], digest);
        }
    }

    /// @dev Every attester's key plus one key that is not an attester (for fuzzing handlers).
    function keysWithStranger() internal returns (uint256[] memory keys) {
        keys = new uint256[](N_ATTESTERS + 1);
        for (uint256 i; i < N_ATTESTERS; ++i) {
            keys[i] = attesterKeys[i];
        }
        (, keys[N_ATTESTERS]) = makeAddrAndKey("stranger");
    }

    function quorum() internal pure returns (uint256[] memory who) {
        who = new uint256[](2);
        (who[0], who[1]) = (0, 2);
    }

    /// @dev Submits a valid, attested report of both feeds with a fresh commitment, observed
    ///      `age` seconds ago; outputs (a, a) for FEED_A and (b, b) for FEED_B.
    function submitValues(int256 a, int256 b, uint256 age) internal returns (uint256) {
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, a, a, b, b);
        uint256 t = block.timestamp - age;
        RiskOracle.Report memory report = reportOf(feeds(), times(t, t));
        return oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, inst[0]));
    }
}
