// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RiskOracle} from "../src/RiskOracle.sol";
import {SignedFixedPoint} from "../src/SignedFixedPoint.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

contract RiskOracleTest is OracleFixture {
    event ReportAccepted(
        uint256 indexed reportId,
        bytes32 indexed modelHash,
        address indexed transmitter,
        uint32 configVersion,
        uint256 signers,
        bytes history
    );
    event AttestersSet(uint32 indexed configVersion, address[] attesters, uint8 threshold);

    uint256 internal constant SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;

    // ------------------------------------------------------------ deployment

    function test_PinsVerifierAndLayout() public view {
        assertEq(oracle.verifier(), address(verifier));
        assertEq(oracle.feedsPerReport(), K);
        assertEq(oracle.outputsPerFeed(), J);
        assertEq(oracle.outputScale(), SCALE);
        uint256[] memory inst = instancesFor(3, MODEL, ONE, ONE, ONE, ONE);
        assertEq(proofOf(inst), verifier.proofFor(inst)); // the fixture's helper mirrors the double
    }

    function test_RevertWhen_VerifierHasNoCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.VerifierHasNoCode.selector, eoa));
        new RiskOracle(eoa, K, J, SCALE, HISTORY, VAR_OUTPUT, address(this), 0);
    }

    function test_RevertWhen_LayoutInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidLayout.selector, 0, J, SCALE));
        new RiskOracle(address(verifier), 0, J, SCALE, HISTORY, VAR_OUTPUT, address(this), 0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidLayout.selector, K, 3, SCALE));
        new RiskOracle(address(verifier), K, 3, SCALE, HISTORY, VAR_OUTPUT, address(this), 0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidLayout.selector, 256, J, SCALE));
        new RiskOracle(address(verifier), 256, J, SCALE, HISTORY, VAR_OUTPUT, address(this), 0);
    }

    // ------------------------------------------------------------ acceptance and decoding

    function test_SubmitPublishesEveryOutputOfEveryFeed() public {
        uint256 tA = block.timestamp - 30;
        uint256 tB = block.timestamp - 90; // each feed keeps its own observation time
        uint256[] memory inst = instancesFor(42, MODEL, ONE * 3 / 2, ONE / 4, -ONE / 4, 2 * ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(tA, tB));
        bytes[] memory sigs = signBy(quorum(), report, 42);

        // History blob: the commitment, then per slot feed index | observedAt | answers (int32).
        bytes memory history = abi.encodePacked(
            uint256(42),
            uint128(
                1 | (tA << 16) | (uint256(uint32(int32(ONE * 3 / 2))) << 48) | (uint256(uint32(int32(ONE / 4))) << 80)
            ),
            uint128(2 | (tB << 16) | (uint256(uint32(int32(-ONE / 4))) << 48) | (uint256(uint32(int32(2 * ONE))) << 80))
        );
        vm.expectEmit(address(oracle));
        emit ReportAccepted(1, MODEL, address(this), 1, (1 << 0) | (1 << 2), history);
        assertEq(oracle.submit(report, proofOf(inst), inst, sigs), 1);

        (uint80 id, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredIn) = volA.latestRoundData();
        assertEq(id, 1); // each feed numbers its own rounds
        assertEq(answer, 1.5e8);
        assertEq(startedAt, tA); // the observation
        assertEq(updatedAt, block.timestamp); // the acceptance
        assertEq(answeredIn, id);
        (id, answer, startedAt, updatedAt,) = varB.latestRoundData();
        assertEq(id, 1);
        assertEq(answer, 2e18);
        assertEq(startedAt, tB);
        assertEq(updatedAt, block.timestamp);
        assertEq(oracle.feedRounds(FEED_B), 1);
        (uint256 number, uint256 roundId,,,) = oracle.feedRound(FEED_B, 0);
        assertEq(number, 1);
        assertEq(roundId, (1 << 8) | 1);
        (,, int256[] memory all) = oracle.getRound(FEED_B, (1 << 8) | 1);
        assertEq(all[0], -0.25e18);
        assertEq(all[1], 2e18);
        assertEq(oracle.inputCommitmentOf(FEED_A, 1 << 8), 42);
        (uint256 acceptedAt, bytes32 model, uint256 commitment, bytes memory stored) = oracle.reportOf(1);
        assertEq(acceptedAt, block.timestamp);
        assertEq(model, MODEL);
        assertEq(commitment, 42);
        assertEq(stored, history);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownReport.selector, 2));
        oracle.reportOf(2);
    }

    function test_RoundIdsIncreaseAndHistoryStaysReadable() public {
        submitValues(ONE, ONE, 100);
        vm.warp(block.timestamp + 60);
        submitValues(2 * ONE, 3 * ONE, 10);
        (uint80 latest, int256 answer,,,) = volA.latestRoundData();
        assertEq(latest, 2);
        assertEq(answer, 2e8);
        (, answer,,,) = volA.getRoundData(1);
        assertEq(answer, 1e8);
        (, answer,,,) = varB.getRoundData(1);
        assertEq(answer, 1e18);
        (, answer,,,) = varB.latestRoundData();
        assertEq(answer, 3e18);
    }

    function test_RevertWhen_RoundBelongsToAnotherFeed() public {
        submitValues(ONE, ONE, 0);
        // Round 1<<8 is FEED_A's slot; FEED_B has (1<<8)|1. Neither reads the other's record.
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_B, 1 << 8));
        oracle.getRound(FEED_B, 1 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, (1 << 8) | 1));
        oracle.getRound(FEED_A, (1 << 8) | 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 2 << 8));
        oracle.getRound(FEED_A, 2 << 8);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NoDataPresent.selector, FEED_A, 2));
        volA.getRoundData(2);
    }

    function test_EmptySlotLeavesItsFeedUntouched() public {
        submitValues(ONE, ONE, 100);
        vm.warp(block.timestamp + 60);
        bytes32[] memory ids = feeds();
        ids[1] = bytes32(0); // BTC's data was refused: only ETH is published
        uint256[] memory inst = instancesFor(77, MODEL, 2 * ONE, 2 * ONE, 0, 0);
        RiskOracle.Report memory report = reportOf(ids, times(block.timestamp, 0));
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, 77));
        (uint80 a,,,,) = volA.latestRoundData();
        (uint80 b, int256 answerB,,,) = varB.latestRoundData();
        assertEq(a, 2);
        assertEq(b, 1); // BTC's round numbers skip the report it was left out of
        assertEq(answerB, 1e18);
    }

    function test_RevertWhen_EveryslotEmpty() public {
        bytes32[] memory ids = new bytes32[](2);
        uint256[] memory inst = instancesFor(5, MODEL, 0, 0, 0, 0);
        RiskOracle.Report memory report = reportOf(ids, times(0, 0));
        bytes[] memory sigs = signBy(quorum(), report, 5);
        vm.expectRevert(RiskOracle.EmptyReport.selector);
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    // ------------------------------------------------------------ attesters

    function test_RevertWhen_AttestersNotConfigured() public {
        RiskOracle fresh = new RiskOracle(address(verifier), K, J, SCALE, HISTORY, VAR_OUTPUT, address(this), 0);
        fresh.setTransmitter(address(this), true);
        RiskOracle.Report memory report = reportOf(feeds(), times(1, 1));
        report.configVersion = 0;
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE, ONE, ONE);
        vm.expectRevert(RiskOracle.AttestersNotConfigured.selector);
        fresh.submit(report, proofOf(inst), inst, new bytes[](0));
    }

    function test_RevertWhen_FewerSignaturesThanThreshold() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        uint256[] memory one = new uint256[](1);
        bytes[] memory sigs = signBy(one, report, 9); // f = 1 colluding attester alone
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotEnoughSignatures.selector, 1, THRESHOLD));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SameSignerTwice() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        uint256[] memory twice = new uint256[](2); // attester 0 twice
        bytes[] memory sigs = signBy(twice, report, 9);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.DuplicateSigner.selector, attesterAddrs[0]));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SignerIsNotAnAttester() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        (address stranger, uint256 key) = makeAddrAndKey("transmitter's own key");
        bytes[] memory sigs = signBy(quorum(), report, 9);
        sigs[1] = sign(key, digestFor(oracle, report, 9));
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownSigner.selector, stranger));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_FeedIdsPermutedAfterSigning() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes[] memory sigs = signBy(quorum(), report, 9);
        (report.feedIds[0], report.feedIds[1]) = (report.feedIds[1], report.feedIds[0]);
        address recovered = vm.addr(1); // placeholder: recovered signer is unknown, checked by selector
        recovered;
        vm.expectPartialRevert(RiskOracle.UnknownSigner.selector);
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_ObservationTimeMovedAfterSigning() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes[] memory sigs = signBy(quorum(), report, 9);
        report.observedAt[0] -= 80_000; // still inside maxAge? no matter: the signature breaks first
        vm.expectPartialRevert(RiskOracle.UnknownSigner.selector);
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_ProofIsOverOtherInputs() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes[] memory sigs = signBy(quorum(), report, 9);
        uint256[] memory other = instancesFor(10, MODEL, ONE, ONE, ONE, ONE); // cherry-picked features
        vm.expectPartialRevert(RiskOracle.UnknownSigner.selector);
        oracle.submit(report, proofOf(other), other, sigs);
    }

    function test_RevertWhen_SignaturesForAnotherOracle() public {
        RiskOracle other = new RiskOracle(address(verifier), K, J, SCALE, HISTORY, VAR_OUTPUT, address(this), 0);
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes32 foreign = digestFor(other, report, 9);
        bytes[] memory sigs = new bytes[](2);
        sigs[0] = sign(attesterKeys[0], foreign);
        sigs[1] = sign(attesterKeys[1], foreign);
        vm.expectPartialRevert(RiskOracle.UnknownSigner.selector);
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SignaturesForAnotherChain() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        vm.chainId(10);
        bytes[] memory sigs = signBy(quorum(), report, 9);
        vm.chainId(31337);
        vm.expectPartialRevert(RiskOracle.UnknownSigner.selector);
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SignaturesForAnOlderConfigVersion() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes[] memory sigs = signBy(quorum(), report, 9);
        oracle.setAttesters(attesterAddrs, THRESHOLD); // same set, new version
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.StaleConfigVersion.selector, 1, 2));
        oracle.submit(report, proofOf(inst), inst, sigs);
        report.configVersion = 2; // claiming the new version does not revive the old signatures
        vm.expectPartialRevert(RiskOracle.UnknownSigner.selector);
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SignerRemovedFromTheSet() public {
        address[] memory smaller = new address[](3);
        (smaller[0], smaller[1], smaller[2]) = (attesterAddrs[1], attesterAddrs[2], attesterAddrs[3]);
        oracle.setAttesters(smaller, 2);
        assertFalse(oracle.isAttester(attesterAddrs[0]));
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes[] memory sigs = signBy(quorum(), report, 9); // attesters 0 and 2
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownSigner.selector, attesterAddrs[0]));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SignatureMalleable() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes32 digest = digestFor(oracle, report, 9);
        bytes[] memory sigs = signBy(quorum(), report, 9);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(attesterKeys[2], digest);
        // The twin (r, n - s, flipped v) recovers the same signer: refused as malleable.
        sigs[1] = abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.MalleableSignature.selector, 1));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SignatureMalformed() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        bytes[] memory sigs = signBy(quorum(), report, 9);
        sigs[0] = abi.encodePacked(bytes32(uint256(1)), bytes32(uint256(2))); // 64 bytes
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidSignature.selector, 0));
        oracle.submit(report, proofOf(inst), inst, sigs);
        sigs[0] = abi.encodePacked(bytes32(0), bytes32(0), uint8(27)); // does not recover
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidSignature.selector, 0));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_AnyThresholdSubsetIsAccepted() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(9);
        uint256[] memory who = new uint256[](3);
        (who[0], who[1], who[2]) = (3, 1, 2); // any order, more than the threshold
        oracle.submit(report, proofOf(inst), inst, signBy(who, report, 9));
        assertEq(oracle.reportCount(), 1);
    }

    function test_RevertWhen_AttesterConfigInvalid() public {
        address[] memory two = new address[](2);
        (two[0], two[1]) = (attesterAddrs[0], attesterAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidAttesterConfig.selector, 2, 1));
        oracle.setAttesters(two, 1); // duplicate
        two[1] = address(0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidAttesterConfig.selector, 2, 1));
        oracle.setAttesters(two, 1); // zero address
        two[1] = attesterAddrs[1];
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidAttesterConfig.selector, 2, 3));
        oracle.setAttesters(two, 3); // threshold above n
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidAttesterConfig.selector, 2, 0));
        oracle.setAttesters(two, 0);
        assertEq(oracle.configVersion(), 1);
    }

    function test_SetAttestersBumpsVersionAndEmits() public {
        vm.expectEmit(address(oracle));
        emit AttestersSet(2, attesterAddrs, 3);
        oracle.setAttesters(attesterAddrs, 3);
        assertEq(oracle.configVersion(), 2);
        assertEq(oracle.threshold(), 3);
        assertEq(oracle.attesters().length, N_ATTESTERS);
        assertTrue(oracle.isAttester(attesterAddrs[3]));
    }

    function test_DigestMatchesIndependentEip712Encoding() public view {
        (RiskOracle.Report memory report,) = validReport(123);
        assertEq(oracle.reportDigest(report, 123), digestFor(oracle, report, 123));
    }

    // ------------------------------------------------------------ proof, instances, model

    function test_RevertWhen_ProofTampered() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(1);
        bytes memory proof = proofOf(inst);
        proof[3] ^= 0x01;
        bytes[] memory sigs = signBy(quorum(), report, 1);
        vm.expectRevert(RiskOracle.ProofRejected.selector);
        oracle.submit(report, proof, inst, sigs);
    }

    function test_RevertWhen_OutputChangedAfterProving() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(1);
        bytes memory proof = proofOf(inst);
        inst[2] += 1;
        bytes[] memory sigs = signBy(quorum(), report, 1);
        vm.expectRevert(RiskOracle.ProofRejected.selector);
        oracle.submit(report, proof, inst, sigs);
    }

    function testFuzz_RevertWhen_InstanceNotAFieldElement(uint256 index, uint256 excess) public {
        index = bound(index, 0, 2 + K * J - 1);
        uint256 value = SignedFixedPoint.R + bound(excess, 0, type(uint256).max - SignedFixedPoint.R);
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(1);
        bytes[] memory sigs = signBy(quorum(), report, 1);
        inst[index] = value; // instance + R aliases the same field element
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InstanceOutOfField.selector, index, value));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_InstanceCountMismatch() public {
        (RiskOracle.Report memory report,) = validReport(1);
        uint256[] memory inst = new uint256[](3);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InstanceCountMismatch.selector, 2 + K * J, 3));
        oracle.submit(report, "", inst, new bytes[](0));
    }

    function test_RevertWhen_FeedCountMismatch() public {
        bytes32[] memory one = new bytes32[](1);
        one[0] = FEED_A;
        RiskOracle.Report memory report = reportOf(one, times(1, 1));
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.FeedCountMismatch.selector, K, 1, 2));
        oracle.submit(report, proofOf(inst), inst, new bytes[](0));
    }

    function test_RevertWhen_ModelUnregistered() public {
        bytes32 unknown = bytes32(uint256(0xbad));
        uint256[] memory inst = instancesFor(1, unknown, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, unknown));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_ModelRetired() public {
        oracle.retireModel(MODEL);
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(1);
        bytes[] memory sigs = signBy(quorum(), report, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, MODEL));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_ModelNotYetActive() public {
        bytes32 later = bytes32(uint256(0x5678));
        oracle.registerModel(later, 8, 0, 0, 0, bytes32(0), uint64(block.timestamp + 100));
        uint256[] memory inst = instancesFor(1, later, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, later));
        oracle.submit(report, proofOf(inst), inst, sigs);
        vm.warp(block.timestamp + 100);
        report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, 1));
    }

    function test_RegistryRecordsUserAndRecordLevelPrivacy() public {
        bytes32 dp = bytes32(uint256(0xd9));
        vm.expectEmit(true, true, true, true);
        emit RiskOracle.ModelRegistered(dp, 100, 0, 7800, 5, keccak256("m"), 0);
        oracle.registerModel(dp, 100, 0, 7800, 5, keccak256("m"), 0);
        (bool registered,, uint32 round, uint32 userEps,,, uint32 recordEps, uint8 deltaExp, bytes32 metrics) =
            oracle.models(dp);
        assertTrue(registered);
        assertEq(round, 100);
        assertEq(userEps, 0); // no user-level DP in this round
        assertEq(recordEps, 7800); // record-level epsilon 7.8
        assertEq(deltaExp, 5); // at delta 1e-5
        assertEq(metrics, keccak256("m"));
    }

    function test_RevertWhen_ModelAlreadyRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelAlreadyRegistered.selector, MODEL));
        oracle.registerModel(MODEL, 1, 0, 0, 0, bytes32(0), 0);
    }

    function test_RevertWhen_RetiringUnknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotRegistered.selector, bytes32(uint256(9))));
        oracle.retireModel(bytes32(uint256(9)));
    }

    // ------------------------------------------------------------ freshness and pacing

    function test_RevertWhen_SameReportSubmittedTwice() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(1);
        bytes[] memory sigs = signBy(quorum(), report, 1);
        oracle.submit(report, proofOf(inst), inst, sigs);
        vm.warp(block.timestamp + 120);
        vm.expectRevert(
            abi.encodeWithSelector(RiskOracle.StaleReport.selector, FEED_A, report.observedAt[0], report.observedAt[0])
        );
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_TwoHonestReportsWithIdenticalFeaturesAreBothAccepted() public {
        submitValues(ONE, ONE, 120);
        vm.warp(block.timestamp + 60);
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE, ONE, ONE); // commitment 1 again
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, 1));
        assertEq(oracle.reportCount(), 2);
    }

    function test_RevertWhen_ReportTooOld() public {
        uint256 t = block.timestamp - MAX_AGE - 1;
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(t, t));
        bytes[] memory sigs = signBy(quorum(), report, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportTooOld.selector, FEED_A, t, MAX_AGE));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_ReportFromFuture() public {
        uint256 t = block.timestamp + 1;
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, t));
        bytes[] memory sigs = signBy(quorum(), report, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportFromFuture.selector, FEED_B, t, block.timestamp));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_UpdateTooSoon_AndAllowedAfterMinDelay() public {
        submitValues(ONE, ONE, 10);
        vm.warp(block.timestamp + 30);
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(50);
        bytes[] memory sigs = signBy(quorum(), report, 50);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UpdateTooSoon.selector, FEED_B, block.timestamp - 30, 60));
        oracle.submit(report, proofOf(inst), inst, sigs);
        vm.warp(block.timestamp + 30);
        (report, inst) = validReport(51);
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, 51));
    }

    // ------------------------------------------------------------ guardrails

    function test_RevertWhen_AnswerOutOfBounds_KeepsLastGoodValue() public {
        submitValues(ONE, ONE, 10);
        vm.warp(block.timestamp + 60);
        uint256[] memory inst = instancesFor(2, MODEL, ONE, 6 * ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.AnswerOutOfBounds.selector, FEED_A, 1, 6 * ONE, 0, 5 * ONE));
        oracle.submit(report, proofOf(inst), inst, sigs);
        (, int256 answer,,,) = volA.latestRoundData();
        assertEq(answer, 1e8);
    }

    function test_RevertWhen_ChangeTooLarge() public {
        submitValues(ONE, ONE, 10);
        vm.warp(block.timestamp + 60);
        uint256[] memory inst = instancesFor(2, MODEL, ONE * 5 / 2, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 2);
        vm.expectRevert(
            abi.encodeWithSelector(RiskOracle.ChangeTooLarge.selector, FEED_A, 0, ONE, ONE * 5 / 2, uint256(ONE))
        );
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_AnswerNotRepresentable() public {
        int256 huge = int256(type(int32).max) + 1;
        uint256[] memory inst = instancesFor(2, MODEL, ONE, ONE, huge, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.AnswerNotRepresentable.selector, FEED_B, 0, huge));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_WindowChangeTooLarge_ThenAllowedInTheNextWindow() public {
        configureWindow(FEED_A, 1 days, uint32(uint256(ONE)), uint32(uint256(ONE) * 3 / 2));
        submitValues(ONE, ONE, 10); // window opens at 1.0
        vm.warp(block.timestamp + 1 hours);
        submitValues(2 * ONE, ONE, 10); // +1.0 from the opening value: allowed
        vm.warp(block.timestamp + 1 hours);
        uint256[] memory inst = instancesFor(3, MODEL, 3 * ONE, ONE, ONE, ONE); // +2.0 in one window
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 3);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskOracle.WindowChangeTooLarge.selector, FEED_A, 0, ONE, 3 * ONE, uint256(ONE) * 3 / 2
            )
        );
        oracle.submit(report, proofOf(inst), inst, sigs);
        vm.warp(block.timestamp + 1 days); // a new window opens at the value in force, 2.0
        report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, 3));
        RiskOracle.FeedState memory state = oracle.feedState(FEED_A);
        assertEq(state.anchor0, 2 * ONE);
        assertEq(state.windowStart, block.timestamp);
    }

    function test_RevertWhen_FeedUnknown() public {
        bytes32[] memory ids = feeds();
        ids[1] = keccak256("nobody configured me");
        uint256[] memory inst = instancesFor(2, MODEL, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(ids, times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownFeed.selector, ids[1]));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_FeedDisabled() public {
        RiskOracle.FeedConfig memory off = configA();
        off.enabled = false;
        oracle.configureFeed(FEED_A, off, limitsA(), "off");
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(2);
        bytes[] memory sigs = signBy(quorum(), report, 2);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownFeed.selector, FEED_A));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_SameFeedTwiceInOneReport() public {
        bytes32[] memory ids = feeds();
        ids[1] = FEED_A;
        uint256[] memory inst = instancesFor(2, MODEL, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(ids, times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 2);
        vm.expectRevert(
            abi.encodeWithSelector(RiskOracle.StaleReport.selector, FEED_A, block.timestamp, block.timestamp)
        );
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_RevertWhen_InvalidFeedConfig() public {
        RiskOracle.FeedConfig memory bad = configA();
        bad.decimals = 6;
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, bad, limitsA(), "");
        RiskOracle.Limits[] memory one = new RiskOracle.Limits[](1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, configA(), one, ""); // one Limits for two outputs
        RiskOracle.Limits[] memory inverted = limitsA();
        inverted[0].minAnswer = 1;
        inverted[0].maxAnswer = 0;
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, configA(), inverted, "");
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, bytes32(0)));
        oracle.configureFeed(bytes32(0), configA(), limitsA(), "");
    }

    function test_RevertWhen_DecimalsChangeAfterFirstRound() public {
        submitValues(ONE, ONE, 0);
        RiskOracle.FeedConfig memory changed = configA();
        changed.decimals = 18;
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidFeedConfig.selector, FEED_A));
        oracle.configureFeed(FEED_A, changed, limitsA(), "");
    }

    function test_ReconfiguringKeepsTheFeedIndexAndHistory() public {
        submitValues(ONE, ONE, 0);
        (,,, uint16 index,,) = oracle.feeds(FEED_A);
        oracle.configureFeed(FEED_A, configA(), limitsA(), "new description");
        (,,, uint16 again,,) = oracle.feeds(FEED_A);
        assertEq(again, index);
        (uint80 id, int256 answer,,,) = volA.latestRoundData();
        assertEq(answer, 1e8);
        assertEq(id, 1); // the round count survives
        assertEq(oracle.feedRounds(FEED_A), 1);
        vm.warp(block.timestamp + 61);
        submitValues(2 * ONE, ONE, 0);
        (id, answer,,,) = volA.latestRoundData();
        assertEq(id, 2);
        (, answer,,,) = volA.getRoundData(1);
        assertEq(answer, 1e8);
    }

    // ------------------------------------------------------------ transmitters and admin

    function test_RevertWhen_TransmitterNotAllowed() public {
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(2);
        bytes[] memory sigs = signBy(quorum(), report, 2);
        address stranger = makeAddr("stranger");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnauthorizedTransmitter.selector, stranger));
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function test_PermissionlessModeAcceptsAnyAttestedReport() public {
        oracle.setPermissionless(true);
        (RiskOracle.Report memory report, uint256[] memory inst) = validReport(2);
        bytes[] memory sigs = signBy(quorum(), report, 2);
        vm.prank(makeAddr("anyone"));
        oracle.submit(report, proofOf(inst), inst, sigs);
        assertEq(oracle.reportCount(), 1);
    }

    function test_RevertWhen_CallerNotAdmin() public {
        address stranger = makeAddr("stranger");
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.registerModel(bytes32(uint256(1)), 1, 0, 0, 0, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.retireModel(MODEL);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.configureFeed(FEED_A, configA(), limitsA(), "");
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.setAttesters(attesterAddrs, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.setTransmitter(stranger, true);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.setPermissionless(true);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.transferAdmin(stranger);
        vm.stopPrank();
    }

    function test_AdminTransferIsTwoStep() public {
        address next = makeAddr("next");
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

    function testFuzz_HistoryRecordsRoundTrip(int32 a0, int32 a1, int32 b0, int32 b1, uint32 ageA, uint32 ageB) public {
        RiskOracle.Limits[] memory wide = new RiskOracle.Limits[](2);
        for (uint256 j; j < 2; ++j) {
            wide[j] = RiskOracle.Limits(type(int32).min, type(int32).max, type(uint32).max, 0);
        }
        oracle.configureFeed(FEED_A, configA(), wide, "");
        oracle.configureFeed(FEED_B, configB(), wide, "");
        uint256 tA = block.timestamp - bound(ageA, 0, MAX_AGE);
        uint256 tB = block.timestamp - bound(ageB, 0, MAX_AGE);
        uint256[] memory inst = instancesFor(8, MODEL, a0, a1, b0, b1);
        RiskOracle.Report memory report = reportOf(feeds(), times(tA, tB));
        oracle.submit(report, proofOf(inst), inst, signBy(quorum(), report, 8));
        assertRound(FEED_A, 1 << 8, tA, a0, a1, 1e8);
        assertRound(FEED_B, (1 << 8) | 1, tB, b0, b1, 1e18);
    }

    function assertRound(bytes32 feedId, uint256 roundId, uint256 observedAt, int32 x0, int32 x1, int256 unit)
        internal
        view
    {
        (uint256 obs,, int256[] memory answers) = oracle.getRound(feedId, roundId);
        assertEq(obs, observedAt);
        assertEq(answers[0], int256(x0) * unit / ONE);
        assertEq(answers[1], int256(x1) * unit / ONE);
    }

    function testFuzz_ObservationAgeWindow(uint256 age) public {
        age = bound(age, 0, 2 * MAX_AGE);
        uint256 t = block.timestamp - age;
        uint256[] memory inst = instancesFor(1, MODEL, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(t, t));
        bytes[] memory sigs = signBy(quorum(), report, 1);
        if (age > MAX_AGE) {
            vm.expectRevert(abi.encodeWithSelector(RiskOracle.ReportTooOld.selector, FEED_A, t, MAX_AGE));
        }
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    function testFuzz_RevertWhen_ModelNotRegistered(bytes32 model) public {
        vm.assume(model != MODEL);
        uint256[] memory inst = instancesFor(1, model, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, 1);
        if (uint256(model) >= SignedFixedPoint.R) {
            vm.expectRevert(abi.encodeWithSelector(RiskOracle.InstanceOutOfField.selector, 1, uint256(model)));
        } else {
            vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, model));
        }
        oracle.submit(report, proofOf(inst), inst, sigs);
    }

    // ------------------------------------------------------------ helpers

    function validReport(uint256 commitment)
        internal
        view
        returns (RiskOracle.Report memory report, uint256[] memory inst)
    {
        inst = instancesFor(commitment, MODEL, ONE, ONE, ONE, ONE);
        report = reportOf(feeds(), times(block.timestamp, block.timestamp));
    }

    function configureWindow(bytes32 feedId, uint32 window, uint32 maxDelta, uint32 maxWindowDelta) internal {
        RiskOracle.FeedConfig memory config = configA();
        config.window = window;
        RiskOracle.Limits[] memory lim = limitsA();
        for (uint256 j; j < 2; ++j) {
            lim[j].maxDelta = maxDelta;
            lim[j].maxWindowDelta = maxWindowDelta;
        }
        oracle.configureFeed(feedId, config, lim, "windowed");
    }
}
