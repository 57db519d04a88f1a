// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RiskOracle} from "../src/RiskOracle.sol";
import {SignedFixedPoint} from "../src/SignedFixedPoint.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

contract RiskOracleTest is OracleFixture {
    event ReportAccepted(
        uint256 indexed reportId,
        bytes32 indexed modelHash,
        uint256 inputCommitment,
        address indexed transmitter,
        uint40 observedAt
    );
    event AnswerUpdated(bytes32 indexed feedId, uint80 indexed roundId, int256 answer, uint256 observedAt);
    event ModelRegistered(
        bytes32 indexed modelHash, uint32 round, uint32 dpEpsilonMilli, bytes32 metricsHash, uint64 activatesAt
    );
    event ModelRetired(bytes32 indexed modelHash);

    // ------------------------------------------------------------ deployment

    function test_PinsVerifier() public view {
        assertEq(oracle.verifier(), address(verifier));
        uint256[] memory inst = instancesFor(3, MODEL, ONE, ONE);
        assertEq(proofOf(inst), verifier.proofFor(inst)); // the fixture's helper mirrors the double
    }

    function test_RevertWhen_VerifierHasNoCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.VerifierHasNoCode.selector, eoa));
        new RiskOracle(eoa, K, J, SCALE, address(this));
    }

    function test_RevertWhen_LayoutInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidLayout.selector, 0, J, SCALE));
        new RiskOracle(address(verifier), 0, J, SCALE, address(this));
    }

    // ------------------------------------------------------------ acceptance and decoding

    function test_SubmitPublishesDecodedRounds() public {
        uint40 observedAt = uint40(block.timestamp - 30);
        uint256[] memory inst = instancesFor(42, MODEL, ONE * 3 / 2, -ONE / 4);
        vm.expectEmit(address(oracle));
        emit AnswerUpdated(FEED_A, 1, 1.5e8, observedAt);
        vm.expectEmit(address(oracle));
        emit AnswerUpdated(FEED_B, 1, -0.25e18, observedAt);
        vm.expectEmit(address(oracle));
        emit ReportAccepted(1, MODEL, 42, address(this), observedAt);
        uint256 reportId = oracle.submit(proofOf(inst), inst, feeds(), observedAt);

        assertEq(reportId, 1);
        RiskOracle.Round memory a = oracle.getRound(FEED_A, 1);
        assertEq(a.answer, 1.5e8);
        assertEq(a.observedAt, observedAt);
        assertEq(a.acceptedAt, block.timestamp);
        assertEq(oracle.getRound(FEED_B, 1).answer, -0.25e18);
        assertEq(oracle.inputCommitmentOf(FEED_A, 1), 42);
        assertEq(oracle.inputCommitmentOf(FEED_B, 1), 42);
        (uint256 commitment, bytes32 model) = oracle.reports(1);
        assertEq(commitment, 42);
        assertEq(model, MODEL);
    }

    function test_DecodingTruncatesTowardZero() public {
        // 1/8192 = 0.0001220703125 -> 12207 at 8 decimals; -1/8192 -> -12207.
        submitValues(1, -1, 0);
        assertEq(oracle.getRound(FEED_A, 1).answer, 12207);
        assertEq(oracle.getRound(FEED_B, 1).answer, -122070312500000);
    }

    function test_RoundsIncreasePerFeed() public {
        submitValues(ONE, ONE, 100);
        vm.warp(block.timestamp + 60);
        submitValues(ONE + 1, ONE, 10);
        (uint80 roundId, RiskOracle.Round memory round) = oracle.latestRound(FEED_A);
        assertEq(roundId, 2);
        assertEq(round.reportId, 2);
        assertGt(round.observedAt, oracle.getRound(FEED_A, 1).observedAt);
        assertEq(oracle.reportCount(), 2);
    }

    // ------------------------------------------------------------ proof and verifier

    function test_RevertWhen_ProofTampered() public {
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        bytes memory proof = proofOf(inst);
        proof[3] ^= 0x01;
        vm.expectRevert(RiskOracle.ProofRejected.selector);
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_OutputChangedAfterProving() public {
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        bytes memory proof = proofOf(inst);
        inst[2] += 1;
        vm.expectRevert(RiskOracle.ProofRejected.selector);
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_InstanceNotAFieldElement() public {
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        inst[2] = SignedFixedPoint.R;
        bytes memory proof = proofOf(inst);
        vm.expectRevert(RiskOracle.ProofRejected.selector);
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_InstanceCountMismatch() public {
        uint256[] memory inst = new uint256[](3);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InstanceCountMismatch.selector, 2 + K * J, 3));
        oracle.submit("", inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_AnswerNotRepresentable() public {
        int256 huge = int256(1) << 200;
        uint256[] memory inst = instancesFor(1, MODEL, huge, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.AnswerNotRepresentable.selector, FEED_A, huge));
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp));
    }

    // ------------------------------------------------------------ model registry

    function test_RegisterAndRetireModelEmitEvents() public {
        bytes32 model = bytes32(uint256(99));
        vm.expectEmit(address(oracle));
        emit ModelRegistered(model, 8, 1000, bytes32("m"), 123);
        oracle.registerModel(model, 8, 1000, bytes32("m"), 123);
        (bool registered, bool retired, uint32 round, uint32 eps, uint64 activatesAt, bytes32 metrics) =
            oracle.models(model);
        assertTrue(registered && !retired);
        assertEq(round, 8);
        assertEq(eps, 1000);
        assertEq(activatesAt, 123);
        assertEq(metrics, bytes32("m"));
        vm.expectEmit(address(oracle));
        emit ModelRetired(model);
        oracle.retireModel(model);
        assertFalse(oracle.isActive(model));
    }

    function test_RevertWhen_ModelUnregistered() public {
        bytes32 unknown = bytes32(uint256(0xbad));
        uint256[] memory inst = instancesFor(1, unknown, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, unknown));
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_ModelRetired() public {
        oracle.retireModel(MODEL);
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, MODEL));
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_ModelNotYetActive() public {
        bytes32 next = bytes32(uint256(0x5678));
        oracle.registerModel(next, 8, 0, bytes32(0), uint64(block.timestamp + 1 days));
        uint256[] memory inst = instancesFor(1, next, ONE, ONE);
        bytes memory proof = proofOf(inst);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, next));
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
        vm.warp(block.timestamp + 1 days);
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
        assertEq(oracle.latestRoundId(FEED_A), 1);
    }

    function test_RevertWhen_ModelAlreadyRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelAlreadyRegistered.selector, MODEL));
        oracle.registerModel(MODEL, 1, 0, bytes32(0), 0);
    }

    function test_RevertWhen_RetiringUnknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotRegistered.selector, bytes32(uint256(1))));
        oracle.retireModel(bytes32(uint256(1)));
    }

    // ------------------------------------------------------------ freshness and replay

    function test_RevertWhen_InputReplayed() public {
        uint256[] memory inst = instancesFor(77, MODEL, ONE, ONE);
        bytes memory proof = proofOf(inst);
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp - 100));
        vm.warp(block.timestamp + 120);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InputAlreadyReported.selector, 77, 1));
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_ReportStale() public {
        submitValues(ONE, ONE, 10);
        vm.warp(block.timestamp + 60);
        uint256 last = block.timestamp - 70;
        uint256[] memory inst = instancesFor(500, MODEL, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.StaleReport.selector, FEED_A, last, last));
        oracle.submit(proofOf(inst), inst, feeds(), uint40(last));
    }

    function test_RevertWhen_ReportTooOld() public {
        uint256 observedAt = block.timestamp - MAX_AGE - 1;
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportTooOld.selector, FEED_A, observedAt, MAX_AGE));
        oracle.submit(proofOf(inst), inst, feeds(), uint40(observedAt));
    }

    function test_RevertWhen_ReportFromFuture() public {
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        vm.expectRevert(
            abi.encodeWithSelector(RiskOracle.ReportFromFuture.selector, block.timestamp + 1, block.timestamp)
        );
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp + 1));
    }

    function test_RevertWhen_UpdateTooSoon() public {
        submitValues(ONE, ONE, 0);
        uint256 acceptedAt = block.timestamp;
        vm.warp(block.timestamp + 59);
        uint256[] memory inst = instancesFor(900, MODEL, ONE, ONE);
        bytes memory proof = proofOf(inst);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UpdateTooSoon.selector, FEED_B, acceptedAt, 60));
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
        vm.warp(block.timestamp + 1);
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
    }

    // ------------------------------------------------------------ guardrails

    function test_RevertWhen_AnswerOutOfBounds_KeepsLastGoodValue() public {
        submitValues(ONE, ONE, 10);
        int256 tooHigh = ONE * 6; // 6.0 > 5.0 maximum of FEED_A
        uint256[] memory inst = instancesFor(600, MODEL, tooHigh, ONE);
        vm.expectRevert(
            abi.encodeWithSelector(RiskOracle.AnswerOutOfBounds.selector, FEED_A, int256(6e8), int256(0), int256(5e8))
        );
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp));
        assertEq(oracle.latestRoundId(FEED_A), 1);
        assertEq(oracle.getRound(FEED_A, 1).answer, 1e8);
        assertEq(oracle.reportOfInput(600), 0);
    }

    function test_RevertWhen_AnswerBelowMinimum() public {
        uint256[] memory inst = instancesFor(1, MODEL, -1, ONE);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskOracle.AnswerOutOfBounds.selector, FEED_A, int256(-12207), int256(0), int256(5e8)
            )
        );
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_ChangeTooLarge() public {
        submitValues(ONE, ONE, 10);
        vm.warp(block.timestamp + 60);
        uint256[] memory inst = instancesFor(700, MODEL, ONE * 2 + 1, ONE);
        vm.expectRevert(
            abi.encodeWithSelector(RiskOracle.ChangeTooLarge.selector, FEED_A, int256(1e8), int256(200012207), 1e8)
        );
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp));
    }

    // ------------------------------------------------------------ feeds and transmitters

    function test_RevertWhen_FeedUnknown() public {
        bytes32[] memory ids = feeds();
        ids[1] = keccak256("SOL-VOL");
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownFeed.selector, ids[1]));
        oracle.submit(proofOf(inst), inst, ids, uint40(block.timestamp));
    }

    function test_RevertWhen_FeedCountMismatch() public {
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = FEED_A;
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.FeedCountMismatch.selector, K, 1));
        oracle.submit(proofOf(inst), inst, ids, uint40(block.timestamp));
    }

    function test_RevertWhen_SameFeedTwiceInOneReport() public {
        bytes32[] memory ids = new bytes32[](2);
        (ids[0], ids[1]) = (FEED_A, FEED_A);
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        uint256 t = block.timestamp;
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.StaleReport.selector, FEED_A, t, t));
        oracle.submit(proofOf(inst), inst, ids, uint40(t));
    }

    function test_RevertWhen_FeedDisabled() public {
        RiskOracle.FeedConfig memory config = configA();
        config.enabled = false;
        oracle.configureFeed(FEED_A, config, "off");
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownFeed.selector, FEED_A));
        oracle.submit(proofOf(inst), inst, feeds(), uint40(block.timestamp));
    }

    function test_RevertWhen_InvalidFeedConfig() public {
        RiskOracle.FeedConfig memory config = configA();
        config.decimals = 6;
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, config, "");
        config = configA();
        config.outputIndex = uint8(J);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, config, "");
        config = configA();
        (config.minAnswer, config.maxAnswer) = (1, 0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, config, "");
    }

    function test_RevertWhen_DecimalsChangeAfterFirstRound() public {
        submitValues(ONE, ONE, 0);
        RiskOracle.FeedConfig memory config = configA();
        config.decimals = 18;
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, config, "");
        config = configA();
        config.maxAnswer = 4e8; // guardrails may still change
        oracle.configureFeed(FEED_A, config, "ETH 1d volatility");
    }

    function test_RevertWhen_TransmitterNotAllowed() public {
        address outsider = makeAddr("outsider");
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        bytes memory proof = proofOf(inst);
        bytes32[] memory ids = feeds();
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnauthorizedTransmitter.selector, outsider));
        vm.prank(outsider);
        oracle.submit(proof, inst, ids, uint40(block.timestamp));
    }

    function test_PermissionlessModeAcceptsAnyValidProof() public {
        oracle.setPermissionless(true);
        oracle.setTransmitter(address(this), false);
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        bytes memory proof = proofOf(inst);
        bytes32[] memory ids = feeds();
        vm.prank(makeAddr("anyone"));
        oracle.submit(proof, inst, ids, uint40(block.timestamp));
        assertEq(oracle.latestRoundId(FEED_A), 1);
    }

    // ------------------------------------------------------------ admin

    function test_RevertWhen_CallerNotAdmin() public {
        address mallory = makeAddr("mallory");
        vm.startPrank(mallory);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, mallory));
        oracle.registerModel(bytes32(uint256(5)), 1, 0, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, mallory));
        oracle.retireModel(MODEL);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, mallory));
        oracle.configureFeed(FEED_A, configA(), "");
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, mallory));
        oracle.setTransmitter(mallory, true);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, mallory));
        oracle.setPermissionless(true);
        vm.stopPrank();
    }

    function test_AdminTransferIsTwoStep() public {
        address next = makeAddr("governance");
        oracle.transferAdmin(next);
        assertEq(oracle.admin(), address(this));
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotPendingAdmin.selector, address(this)));
        oracle.acceptAdmin();
        vm.prank(next);
        oracle.acceptAdmin();
        assertEq(oracle.admin(), next);
        assertEq(oracle.pendingAdmin(), address(0));
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_DecodesAnyInBoundsValue(int128 fixedPoint) public {
        int256 expected = int256(fixedPoint) * 1e8 / ONE;
        uint256[] memory inst = instancesFor(1, MODEL, fixedPoint, ONE);
        bytes memory proof = proofOf(inst);
        if (expected < 0 || expected > 5e8) {
            vm.expectRevert(
                abi.encodeWithSelector(RiskOracle.AnswerOutOfBounds.selector, FEED_A, expected, int256(0), int256(5e8))
            );
        }
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
        if (expected >= 0 && expected <= 5e8) assertEq(oracle.getRound(FEED_A, 1).answer, expected);
    }

    function testFuzz_EighteenDecimalsMatchesFixedPoint(int64 fixedPoint) public {
        int256 expected = int256(fixedPoint) * 1e18 / ONE;
        vm.assume(expected >= -10e18 && expected <= 10e18);
        submitValues(ONE, fixedPoint, 0);
        assertEq(oracle.getRound(FEED_B, 1).answer, expected);
    }

    function testFuzz_RevertWhen_ModelNotRegistered(bytes32 model) public {
        vm.assume(model != MODEL);
        uint256[] memory inst = instancesFor(1, model, ONE, ONE);
        bytes memory proof = proofOf(inst);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, model));
        oracle.submit(proof, inst, feeds(), uint40(block.timestamp));
    }

    function testFuzz_ObservationAgeWindow(uint256 age) public {
        age = bound(age, 0, 3 * MAX_AGE);
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE);
        bytes memory proof = proofOf(inst);
        uint256 observedAt = block.timestamp - age;
        if (age > MAX_AGE) {
            vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportTooOld.selector, FEED_A, observedAt, MAX_AGE));
        }
        oracle.submit(proof, inst, feeds(), uint40(observedAt));
    }
}
