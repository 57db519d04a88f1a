// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RiskOracle} from "../src/RiskOracle.sol";
import {OracleFixture} from "./utils/OracleFixture.sol";

/// @notice The governance delay: after the first accepted report every trust-relevant admin
///         change (attesters, transmitters, feed limits, model activation, admin transfer, the
///         adapter registry) must be queued and waits `governanceDelay`; `retireModel` and
///         `cancel` act at once. The fixture's initial configuration runs before any report, so
///         it is immediate.
contract RiskOracleGovernanceTest is OracleFixture {
    uint256 internal constant DELAY = 2 days;
    uint256 internal constant POWERS = 7;
    bytes32 internal constant NEW_MODEL = bytes32(uint256(0xbeef));
    int32 internal constant WIDE = type(int32).max;

    address internal stranger;

    function governanceDelay() internal pure override returns (uint256) {
        return DELAY;
    }

    function setUp() public override {
        super.setUp();
        stranger = makeAddr("stranger");
        submitValues(ONE, ONE, 0); // the first report ends the initial configuration
    }

    // ------------------------------------------------------------ helpers

    function one(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    /// @dev Limits that let any value and any move through (what an attacker would set).
    function openLimits() internal pure returns (RiskOracle.Limits[] memory lim) {
        lim = new RiskOracle.Limits[](2);
        for (uint256 j; j < 2; ++j) {
            lim[j] =
                RiskOracle.Limits({minAnswer: -WIDE, maxAnswer: WIDE, maxDelta: type(uint32).max, maxWindowDelta: 0});
        }
    }

    /// @dev One call per governed power, as the admin would send (or queue) it.
    function powerCall(uint256 i) internal view returns (bytes memory) {
        if (i == 0) return abi.encodeCall(RiskOracle.registerModel, (NEW_MODEL, 8, 0, 0, 0, bytes32(0), 0));
        if (i == 1) return abi.encodeCall(RiskOracle.configureFeed, (FEED_A, configA(), openLimits(), "open"));
        if (i == 2) return abi.encodeCall(RiskOracle.setAttesters, (one(stranger), 1));
        if (i == 3) return abi.encodeCall(RiskOracle.setTransmitter, (stranger, true));
        if (i == 4) return abi.encodeCall(RiskOracle.setPermissionless, (true));
        if (i == 5) return abi.encodeCall(RiskOracle.transferAdmin, (stranger));
        return abi.encodeCall(RiskOracle.setAdapter, (FEED_A, 0, address(volA)));
    }

    /// @dev True once power i's change is in force.
    function applied(uint256 i) internal view returns (bool) {
        if (i == 0) return oracle.isActive(NEW_MODEL);
        if (i == 1) return oracle.limits(FEED_A, 1).maxAnswer == WIDE;
        if (i == 2) return oracle.isAttester(stranger);
        if (i == 3) return oracle.isTransmitter(stranger);
        if (i == 4) return oracle.permissionless();
        if (i == 5) return oracle.pendingAdmin() == stranger;
        return oracle.adapterOf(FEED_A, 0) == address(volA);
    }

    /// @dev Sends `call` to the oracle and asserts it reverts with exactly `expected`.
    function assertRevertsWith(bytes memory call, bytes memory expected) internal {
        (bool ok, bytes memory ret) = address(oracle).call(call);
        assertFalse(ok, "call should revert");
        assertEq(ret, expected);
    }

    function execute(bytes memory call) internal {
        (bool ok, bytes memory ret) = address(oracle).call(call);
        assertTrue(ok, string(ret));
    }

    // ------------------------------------------------------------ every power is delayed

    function test_RevertWhen_GovernedChangeIsNotQueued() public {
        for (uint256 i; i < POWERS; ++i) {
            bytes memory call = powerCall(i);
            assertRevertsWith(call, abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, keccak256(call)));
            assertFalse(applied(i));
        }
    }

    function test_RevertWhen_GovernedChangeRunsBeforeItsEta() public {
        uint256 queuedAt = block.timestamp;
        for (uint256 i; i < POWERS; ++i) {
            oracle.queue(powerCall(i));
        }
        vm.warp(queuedAt + DELAY - 1);
        for (uint256 i; i < POWERS; ++i) {
            bytes memory call = powerCall(i);
            assertRevertsWith(
                call,
                abi.encodeWithSelector(
                    RiskOracle.ChangeNotReady.selector, keccak256(call), queuedAt + DELAY, block.timestamp
                )
            );
            assertFalse(applied(i));
        }
    }

    function test_GovernedChangeTakesEffectAtItsEtaOnce() public {
        uint256 eta = block.timestamp + DELAY;
        for (uint256 i; i < POWERS; ++i) {
            oracle.queue(powerCall(i));
        }
        vm.warp(eta);
        for (uint256 i; i < POWERS; ++i) {
            bytes memory call = powerCall(i);
            bytes32 id = keccak256(call);
            vm.expectEmit(address(oracle));
            emit RiskOracle.ChangeExecuted(id);
            execute(call);
            assertTrue(applied(i));
            (uint256 storedEta, uint8 status) = oracle.pendingChange(id);
            assertEq(storedEta, eta);
            assertEq(status, oracle.CHANGE_EXECUTED());
            // Executed changes are consumed: the same calldata needs a new queueing.
            assertRevertsWith(call, abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, id));
        }
    }

    function test_QueueEmitsTheCallAndItsEta() public {
        bytes memory call = powerCall(2);
        uint256 eta = block.timestamp + DELAY;
        vm.expectEmit(address(oracle));
        emit RiskOracle.ChangeQueued(keccak256(call), call, eta);
        (bytes32 id, uint256 returnedEta) = oracle.queue(call);
        assertEq(id, keccak256(call));
        assertEq(returnedEta, eta);
        (uint256 storedEta, uint8 status) = oracle.pendingChange(id);
        assertEq(storedEta, eta);
        assertEq(status, oracle.CHANGE_QUEUED());
        (storedEta, status) = oracle.pendingChange(keccak256("never queued"));
        assertEq(storedEta, 0);
        assertEq(status, 0);
    }

    function test_CancelDropsAQueuedChange() public {
        bytes memory call = powerCall(3);
        (bytes32 id, uint256 eta) = oracle.queue(call);
        vm.expectEmit(address(oracle));
        emit RiskOracle.ChangeCancelled(id);
        oracle.cancel(id);
        (, uint8 status) = oracle.pendingChange(id);
        assertEq(status, oracle.CHANGE_CANCELLED());
        vm.warp(eta);
        assertRevertsWith(call, abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, id));
        assertFalse(applied(3));
        // Queued again, it waits a full delay from now.
        (, uint256 newEta) = oracle.queue(call);
        assertEq(newEta, block.timestamp + DELAY);
    }

    function test_RevertWhen_CancellingAChangeNotQueued() public {
        bytes32 id = keccak256(powerCall(3));
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, id));
        oracle.cancel(id);
        oracle.queue(powerCall(3));
        oracle.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, id));
        oracle.cancel(id); // already cancelled
    }

    function test_RevertWhen_QueueingTheSameChangeTwice() public {
        (bytes32 id,) = oracle.queue(powerCall(4));
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ChangeAlreadyQueued.selector, id));
        oracle.queue(powerCall(4));
    }

    function test_RevertWhen_QueueingACallThatIsNotGoverned() public {
        bytes[] memory calls = new bytes[](5);
        calls[0] = abi.encodeCall(RiskOracle.retireModel, (MODEL));
        calls[1] = abi.encodeCall(RiskOracle.cancel, (bytes32(0)));
        calls[2] = abi.encodeCall(RiskOracle.queue, (powerCall(2)));
        calls[3] = abi.encodeCall(RiskOracle.acceptAdmin, ());
        calls[4] = hex"2c";
        for (uint256 i; i < calls.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotGovernable.selector, bytes4(calls[i])));
            oracle.queue(calls[i]);
        }
    }

    function test_RevertWhen_StrangerQueuesCancelsOrExecutes() public {
        bytes memory call = powerCall(3);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.queue(call);
        (bytes32 id, uint256 eta) = oracle.queue(call);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.cancel(id);
        vm.warp(eta);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, stranger));
        oracle.setTransmitter(stranger, true);
        assertFalse(applied(3));
    }

    function test_RetireModelStaysImmediate() public {
        vm.expectEmit(address(oracle));
        emit RiskOracle.ModelRetired(MODEL);
        oracle.retireModel(MODEL);
        assertFalse(oracle.isActive(MODEL));
        vm.warp(block.timestamp + 1);
        uint256[] memory inst = instancesFor(nextCommitment++, MODEL, ONE, ONE, ONE, ONE);
        RiskOracle.Report memory report = reportOf(feeds(), times(block.timestamp, block.timestamp));
        bytes[] memory sigs = signBy(quorum(), report, inst[0]);
        bytes memory proof = proofOf(inst);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ModelNotActive.selector, MODEL));
        oracle.submit(report, proof, inst, sigs);
    }

    function test_AdminTransferWaitsTheDelayThenTheNewAdminAccepts() public {
        (, uint256 eta) = oracle.queue(powerCall(5));
        vm.warp(eta);
        oracle.transferAdmin(stranger);
        vm.prank(stranger);
        oracle.acceptAdmin(); // accepting is not a new trust change: immediate
        assertEq(oracle.admin(), stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.NotAdmin.selector, address(this)));
        oracle.queue(powerCall(3));
    }

    function test_InitialConfigurationIsImmediateUntilTheFirstReport() public {
        RiskOracle fresh = new RiskOracle(address(verifier), K, J, SCALE, HISTORY, VAR_OUTPUT, address(this), DELAY);
        // Before any report: direct calls act at once, and consume a queued twin if any.
        (bytes32 id,) = fresh.queue(abi.encodeCall(RiskOracle.setPermissionless, (true)));
        fresh.setPermissionless(true);
        (, uint8 status) = fresh.pendingChange(id);
        assertEq(status, fresh.CHANGE_EXECUTED());
        fresh.configureFeed(FEED_A, configA(), limitsA(), "ETH");
        fresh.registerModel(MODEL, 7, 0, 0, 0, bytes32(0), 0);
        fresh.setAttesters(attesterAddrs, THRESHOLD);
        fresh.setAdapter(FEED_A, 0, address(volA));
        assertEq(fresh.adapterOf(FEED_A, 0), address(volA));
        // The first accepted report ends it.
        uint256[] memory inst = instancesFor(7, MODEL, ONE, ONE, 0, 0);
        bytes32[] memory ids = feeds();
        ids[1] = bytes32(0);
        RiskOracle.Report memory report = reportOf(ids, times(block.timestamp, 0));
        bytes32 digest = digestFor(fresh, report, 7);
        bytes[] memory sigs = new bytes[](2);
        (sigs[0], sigs[1]) = (sign(attesterKeys[0], digest), sign(attesterKeys[1], digest));
        fresh.submit(report, proofOf(inst), inst, sigs);
        bytes memory call = abi.encodeCall(RiskOracle.setPermissionless, (false));
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, keccak256(call)));
        fresh.setPermissionless(false);
    }

    function test_RevertWhen_GovernanceDelayAboveTheMaximum() public {
        uint256 tooLong = oracle.MAX_GOVERNANCE_DELAY() + 1;
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.InvalidGovernanceDelay.selector, tooLong));
        new RiskOracle(address(verifier), K, J, SCALE, HISTORY, VAR_OUTPUT, address(this), tooLong);
    }

    // ------------------------------------------------------------ the adapter registry

    function test_SetAdapterRegistersAndEmits() public {
        bytes memory call = abi.encodeCall(RiskOracle.setAdapter, (FEED_B, 1, address(varB)));
        (, uint256 eta) = oracle.queue(call);
        vm.warp(eta);
        vm.expectEmit(address(oracle));
        emit RiskOracle.AdapterSet(FEED_B, 1, address(varB));
        execute(call);
        assertEq(oracle.adapterOf(FEED_B, 1), address(varB));
        assertEq(oracle.adapterOf(FEED_B, 0), address(0));
    }

    function test_RevertWhen_AdapterOutputOutOfRange() public {
        bytes memory call = abi.encodeCall(RiskOracle.setAdapter, (FEED_A, J, address(volA)));
        (bytes32 id, uint256 eta) = oracle.queue(call);
        vm.warp(eta);
        assertRevertsWith(call, abi.encodeWithSelector(RiskOracle.InvalidOutput.selector, J, J));
        (, uint8 status) = oracle.pendingChange(id);
        assertEq(status, oracle.CHANGE_QUEUED()); // the revert undid the consumption
    }

    // ------------------------------------------------------------ issue 22: the one-key admin attack

    /// @dev The attack of issue 22 with the admin's only key: make its own key the sole attester
    ///      (threshold 1), open the limits, publish a 21.6 % VaR two blocks later.
    function attackReport(uint256 commitment, uint256 ownKey)
        internal
        view
        returns (RiskOracle.Report memory report, uint256[] memory inst, bytes[] memory sigs)
    {
        int256 var216 = ONE * 216 / 10; // a 21.6 % VaR (the limits allow at most 5 %)
        inst = instancesFor(commitment, MODEL, ONE, var216, 0, 0);
        bytes32[] memory ids = feeds();
        ids[1] = bytes32(0);
        report = reportOf(ids, times(block.timestamp - 1, 0));
        sigs = new bytes[](1);
        sigs[0] = sign(ownKey, digestFor(oracle, report, commitment));
    }

    function test_RevertWhen_OneKeyAdminPublishesWithinTheDelay() public {
        (address own, uint256 ownKey) = makeAddrAndKey("attacker");
        bytes memory takeOver = abi.encodeCall(RiskOracle.setAttesters, (one(own), 1));
        bytes memory open = abi.encodeCall(RiskOracle.configureFeed, (FEED_A, configA(), openLimits(), "ETH"));

        // The instant route is closed.
        assertRevertsWith(takeOver, abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, keccak256(takeOver)));
        assertRevertsWith(open, abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, keccak256(open)));

        // Queued: public (event with the calldata, `pendingChange`) for the whole delay.
        uint256 eta = block.timestamp + DELAY;
        vm.expectEmit(address(oracle));
        emit RiskOracle.ChangeQueued(keccak256(takeOver), takeOver, eta);
        (bytes32 takeOverId,) = oracle.queue(takeOver);
        (bytes32 openId,) = oracle.queue(open);
        (uint256 pendingEta, uint8 status) = oracle.pendingChange(takeOverId);
        assertEq(pendingEta, eta);
        assertEq(status, oracle.CHANGE_QUEUED());

        // Two blocks later: neither change can run, and the 21.6 % VaR cannot be published.
        vm.roll(block.number + 2);
        vm.warp(block.timestamp + 24);
        assertRevertsWith(
            takeOver, abi.encodeWithSelector(RiskOracle.ChangeNotReady.selector, takeOverId, eta, block.timestamp)
        );
        assertRevertsWith(
            open, abi.encodeWithSelector(RiskOracle.ChangeNotReady.selector, openId, eta, block.timestamp)
        );
        (RiskOracle.Report memory report, uint256[] memory inst, bytes[] memory sigs) = attackReport(77, ownKey);
        bytes memory proof = proofOf(inst);
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.UnknownSigner.selector, own));
        oracle.submit(report, proof, inst, sigs);
        // Signed for the configuration it queued (version 2): not the chain's.
        report.configVersion = 2;
        sigs[0] = sign(ownKey, digestFor(oracle, report, 77));
        vm.expectRevert(abi.encodeWithSelector(RiskOracle.StaleConfigVersion.selector, 2, 1));
        oracle.submit(report, proof, inst, sigs);
        // Even with a real quorum the limits still in force refuse it.
        report.configVersion = 1;
        sigs = signBy(quorum(), report, 77);
        vm.expectRevert(
            abi.encodeWithSelector(RiskOracle.AnswerOutOfBounds.selector, FEED_A, 1, ONE * 216 / 10, 0, 5 * ONE)
        );
        oracle.submit(report, proof, inst, sigs);

        // Seen in time, the changes are cancelled and never take effect.
        oracle.cancel(takeOverId);
        oracle.cancel(openId);
        vm.warp(eta);
        assertRevertsWith(takeOver, abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, takeOverId));
        assertRevertsWith(open, abi.encodeWithSelector(RiskOracle.ChangeNotQueued.selector, openId));
        assertFalse(oracle.isAttester(own));
        (,,,, int256[] memory answers) = oracle.feedRound(FEED_A, 0);
        assertEq(answers[1], 1e8); // the honest 1 % VaR of the first report
    }

    /// @dev What the delay buys is time, not prevention: uncancelled, the attack lands at the eta.
    function test_OneKeyAdminAttackLandsOnlyAfterTheDelayIfNobodyCancels() public {
        (address own, uint256 ownKey) = makeAddrAndKey("attacker");
        bytes memory takeOver = abi.encodeCall(RiskOracle.setAttesters, (one(own), 1));
        bytes memory open = abi.encodeCall(RiskOracle.configureFeed, (FEED_A, configA(), openLimits(), "ETH"));
        (, uint256 eta) = oracle.queue(takeOver);
        oracle.queue(open);
        vm.warp(eta);
        execute(takeOver);
        execute(open);
        (RiskOracle.Report memory report, uint256[] memory inst, bytes[] memory sigs) = attackReport(78, ownKey);
        oracle.submit(report, proofOf(inst), inst, sigs);
        (,,,, int256[] memory answers) = oracle.feedRound(FEED_A, 0);
        assertEq(answers[1], (ONE * 216 / 10) * 1e8 / ONE); // 21.59997558 %
    }
}
