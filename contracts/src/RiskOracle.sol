// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SignedFixedPoint} from "./SignedFixedPoint.sol";
import {IHalo2Verifier} from "./interfaces/IHalo2Verifier.sol";

/// @title RiskOracle
/// @notice Publishes risk numbers (volatility, margin, ...) proved by zk-SNARKs of registered
///         federated models. One oracle serves one circuit architecture: the circuit's EZKL Halo2
///         verifier (its verifying key compiled in), pinned here at deployment.
/// @dev Public-instance layout (circuits/layout.py): [input commitment, model hash,
///      output j of feed k at 2 + k*J + j]; outputs are signed fixed point with `outputScale`
///      fractional bits, negative x encoded as R - |x|. Parameters are hashed in the circuit, so
///      the verifying key does not depend on the weights: every federated round is a new
///      registered model hash on the same verifier.
contract RiskOracle {
    using SignedFixedPoint for uint256;

    /// @notice A registered model (one set of federated weights), keyed by its Poseidon hash.
    struct Model {
        bool registered;
        bool retired;
        uint32 round; // federated round that produced the weights
        uint32 dpEpsilonMilli; // differential-privacy epsilon x 1000 (0: no DP)
        uint64 activatesAt; // reports are accepted from this time on
        bytes32 metricsHash; // hash of the evaluation metrics document
    }

    /// @notice Guardrails and decoding of one feed.
    struct FeedConfig {
        int128 minAnswer; // inclusive bounds, in feed decimals
        int128 maxAnswer;
        uint128 maxDelta; // largest |answer - previous answer| accepted
        uint32 minDelay; // seconds between accepted updates
        uint32 maxAge; // largest block.timestamp - observedAt accepted
        uint8 outputIndex; // which model output j this feed publishes
        uint8 decimals; // 8 or 18
        bool enabled;
    }

    /// @notice One accepted value of a feed.
    struct Round {
        int128 answer;
        uint40 observedAt; // timestamp the report's inputs were observed at
        uint40 acceptedAt; // block timestamp of acceptance
        uint48 reportId; // the batch report that carried it (see `reports`)
    }

    /// @notice What a batch report committed to: kept so data holders can audit each round.
    struct Report {
        uint256 inputCommitment; // Poseidon hash of the proved inputs (instance 0)
        bytes32 modelHash; // instance 1
    }

    uint256 internal constant INPUT_HASH_INDEX = 0;
    uint256 internal constant MODEL_HASH_INDEX = 1;
    uint256 internal constant FIRST_OUTPUT_INDEX = 2;

    /// @notice The circuit's EZKL Halo2 verifier (fixed at deployment).
    address public immutable verifier;
    /// @notice Feeds proved per report (K).
    uint256 public immutable feedsPerReport;
    /// @notice Model outputs per feed (J).
    uint256 public immutable outputsPerFeed;
    /// @notice Fractional bits of the proved outputs.
    uint8 public immutable outputScale;

    /// @notice Governance role: registers models, configures feeds and transmitters.
    address public admin;
    /// @notice Proposed admin, who must call `acceptAdmin`.
    address public pendingAdmin;
    /// @notice When true anyone may submit valid proofs; otherwise only allow-listed transmitters.
    bool public permissionless;
    /// @notice Number of accepted reports (report ids start at 1).
    uint48 public reportCount;

    mapping(bytes32 modelHash => Model) public models;
    mapping(bytes32 feedId => FeedConfig) public feeds;
    mapping(bytes32 feedId => string) public feedDescription;
    mapping(bytes32 feedId => uint80) public latestRoundId;
    mapping(bytes32 feedId => mapping(uint80 roundId => Round)) internal _rounds;
    mapping(uint256 reportId => Report) public reports;
    mapping(uint256 inputCommitment => uint256 reportId) public reportOfInput;
    mapping(address => bool) public isTransmitter;

    event ModelRegistered(
        bytes32 indexed modelHash, uint32 round, uint32 dpEpsilonMilli, bytes32 metricsHash, uint64 activatesAt
    );
    event ModelRetired(bytes32 indexed modelHash);
    event FeedConfigured(bytes32 indexed feedId, FeedConfig config, string description);
    event TransmitterSet(address indexed transmitter, bool allowed);
    event PermissionlessSet(bool permissionless);
    event AdminTransferStarted(address indexed admin, address indexed pendingAdmin);
    event AdminTransferred(address indexed previousAdmin, address indexed newAdmin);
    event ReportAccepted(
        uint256 indexed reportId,
        bytes32 indexed modelHash,
        uint256 inputCommitment,
        address indexed transmitter,
        uint40 observedAt
    );
    /// @notice Chainlink-style per-feed update.
    event AnswerUpdated(bytes32 indexed feedId, uint80 indexed roundId, int256 answer, uint256 observedAt);

    error VerifierHasNoCode(address verifier);
    error InvalidLayout(uint256 feedsPerReport, uint256 outputsPerFeed, uint8 outputScale);
    error NotAdmin(address caller);
    error NotPendingAdmin(address caller);
    error ZeroAddress();
    error InvalidFeedConfig(bytes32 feedId);
    error ModelAlreadyRegistered(bytes32 modelHash);
    error ModelNotRegistered(bytes32 modelHash);
    error UnauthorizedTransmitter(address transmitter);
    error InstanceCountMismatch(uint256 expected, uint256 actual);
    error FeedCountMismatch(uint256 expected, uint256 actual);
    error ModelNotActive(bytes32 modelHash);
    error InputAlreadyReported(uint256 inputCommitment, uint256 reportId);
    error ReportFromFuture(uint256 observedAt, uint256 blockTimestamp);
    error ProofRejected();
    error UnknownFeed(bytes32 feedId);
    error StaleReport(bytes32 feedId, uint256 observedAt, uint256 lastObservedAt);
    error ReportTooOld(bytes32 feedId, uint256 observedAt, uint256 maxAge);
    error UpdateTooSoon(bytes32 feedId, uint256 lastAcceptedAt, uint256 minDelay);
    error AnswerNotRepresentable(bytes32 feedId, int256 fixedPoint);
    error AnswerOutOfBounds(bytes32 feedId, int256 answer, int256 minAnswer, int256 maxAnswer);
    error ChangeTooLarge(bytes32 feedId, int256 previousAnswer, int256 answer, uint256 maxDelta);

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Pins `verifier_`, the circuit's EZKL verifier.
    /// @param verifier_ EZKL `Halo2Verifier` of the circuit (must have code).
    /// @param feedsPerReport_ K, feeds proved per report.
    /// @param outputsPerFeed_ J, model outputs per feed.
    /// @param outputScale_ fractional bits of the outputs (EZKL `model_output_scales[0]`).
    /// @param admin_ governance address.
    constructor(
        address verifier_,
        uint256 feedsPerReport_,
        uint256 outputsPerFeed_,
        uint8 outputScale_,
        address admin_
    ) {
        if (verifier_.code.length == 0) revert VerifierHasNoCode(verifier_);
        if (feedsPerReport_ == 0 || outputsPerFeed_ == 0 || outputsPerFeed_ > 255 || outputScale_ > 64) {
            revert InvalidLayout(feedsPerReport_, outputsPerFeed_, outputScale_);
        }
        if (admin_ == address(0)) revert ZeroAddress();
        verifier = verifier_;
        feedsPerReport = feedsPerReport_;
        outputsPerFeed = outputsPerFeed_;
        outputScale = outputScale_;
        admin = admin_;
        emit AdminTransferred(address(0), admin_);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Registers model `modelHash` (the proof's model-hash instance) with its metadata.
    /// @param modelHash Poseidon hash of the quantised weights (`models.identity.model_hash`).
    /// @param round federated round that produced the weights.
    /// @param dpEpsilonMilli differential-privacy epsilon x 1000.
    /// @param metricsHash hash of the evaluation metrics document.
    /// @param activatesAt reports are accepted from this timestamp on.
    function registerModel(
        bytes32 modelHash,
        uint32 round,
        uint32 dpEpsilonMilli,
        bytes32 metricsHash,
        uint64 activatesAt
    ) external onlyAdmin {
        if (models[modelHash].registered) revert ModelAlreadyRegistered(modelHash);
        models[modelHash] = Model(true, false, round, dpEpsilonMilli, activatesAt, metricsHash);
        emit ModelRegistered(modelHash, round, dpEpsilonMilli, metricsHash, activatesAt);
    }

    /// @notice Retires model `modelHash` for good: its reports are no longer accepted.
    function retireModel(bytes32 modelHash) external onlyAdmin {
        Model storage model = models[modelHash];
        if (!model.registered) revert ModelNotRegistered(modelHash);
        model.retired = true;
        emit ModelRetired(modelHash);
    }

    /// @notice Creates or updates feed `feedId`. Decimals and output index are fixed once the
    ///         feed has rounds, so history keeps one meaning.
    function configureFeed(bytes32 feedId, FeedConfig calldata config, string calldata description_)
        external
        onlyAdmin
    {
        FeedConfig storage current = feeds[feedId];
        bool valid = config.minAnswer <= config.maxAnswer && (config.decimals == 8 || config.decimals == 18)
            && config.outputIndex < outputsPerFeed && config.maxAge > 0;
        if (latestRoundId[feedId] != 0) {
            valid = valid && config.decimals == current.decimals && config.outputIndex == current.outputIndex;
        }
        if (!valid) revert InvalidFeedConfig(feedId);
        feeds[feedId] = config;
        feedDescription[feedId] = description_;
        emit FeedConfigured(feedId, config, description_);
    }

    /// @notice Allows or disallows `transmitter` (used when not permissionless).
    function setTransmitter(address transmitter, bool allowed) external onlyAdmin {
        isTransmitter[transmitter] = allowed;
        emit TransmitterSet(transmitter, allowed);
    }

    /// @notice Switches between permissionless submission and the transmitter allow-list.
    function setPermissionless(bool permissionless_) external onlyAdmin {
        permissionless = permissionless_;
        emit PermissionlessSet(permissionless_);
    }

    /// @notice Starts handing the admin role to `newAdmin` (who must accept).
    function transferAdmin(address newAdmin) external onlyAdmin {
        pendingAdmin = newAdmin;
        emit AdminTransferStarted(admin, newAdmin);
    }

    /// @notice Completes an admin transfer started by `transferAdmin`.
    function acceptAdmin() external {
        if (msg.sender != pendingAdmin) revert NotPendingAdmin(msg.sender);
        emit AdminTransferred(admin, msg.sender);
        admin = msg.sender;
        pendingAdmin = address(0);
    }

    // ---------------------------------------------------------------- reports

    /// @notice Verifies a batch report and publishes one new round for each of its K feeds.
    /// @param proof EZKL proof bytes.
    /// @param instances public instances [input commitment, model hash, K*J outputs].
    /// @param feedIds the feed that batch slot k reports (length K).
    /// @param observedAt timestamp the proved inputs were observed at (attested by the
    ///        transmitter; see README "Timestamp binding").
    /// @return reportId id of the accepted report.
    function submit(bytes calldata proof, uint256[] calldata instances, bytes32[] calldata feedIds, uint40 observedAt)
        external
        returns (uint256 reportId)
    {
        if (!permissionless && !isTransmitter[msg.sender]) revert UnauthorizedTransmitter(msg.sender);
        uint256 k = feedsPerReport;
        uint256 expected = FIRST_OUTPUT_INDEX + k * outputsPerFeed;
        if (instances.length != expected) revert InstanceCountMismatch(expected, instances.length);
        if (feedIds.length != k) revert FeedCountMismatch(k, feedIds.length);
        if (observedAt > block.timestamp) revert ReportFromFuture(observedAt, block.timestamp);

        bytes32 modelHash = bytes32(instances[MODEL_HASH_INDEX]);
        if (!isActive(modelHash)) revert ModelNotActive(modelHash);
        uint256 commitment = instances[INPUT_HASH_INDEX];
        uint256 previous = reportOfInput[commitment];
        if (previous != 0) revert InputAlreadyReported(commitment, previous);

        _verify(proof, instances);

        reportId = ++reportCount;
        reports[reportId] = Report(commitment, modelHash);
        reportOfInput[commitment] = reportId;
        for (uint256 i; i < k; ++i) {
            _publish(feedIds[i], instances, i, observedAt, uint48(reportId));
        }
        emit ReportAccepted(reportId, modelHash, commitment, msg.sender, observedAt);
    }

    // ---------------------------------------------------------------- views

    /// @notice True when `modelHash` is registered, not retired and past its activation time.
    function isActive(bytes32 modelHash) public view returns (bool) {
        Model storage model = models[modelHash];
        return model.registered && !model.retired && block.timestamp >= model.activatesAt;
    }

    /// @notice Round `roundId` of feed `feedId` (all zero when absent).
    function getRound(bytes32 feedId, uint80 roundId) external view returns (Round memory) {
        return _rounds[feedId][roundId];
    }

    /// @notice The latest round of `feedId` and its id (id 0 when the feed has no rounds).
    function latestRound(bytes32 feedId) external view returns (uint80 roundId, Round memory round) {
        roundId = latestRoundId[feedId];
        round = _rounds[feedId][roundId];
    }

    /// @notice Input commitment stored with round `roundId` of `feedId`, for audits by data holders.
    function inputCommitmentOf(bytes32 feedId, uint80 roundId) external view returns (uint256) {
        return reports[_rounds[feedId][roundId].reportId].inputCommitment;
    }

    // ---------------------------------------------------------------- internals

    function _verify(bytes calldata proof, uint256[] calldata instances) internal {
        // The EZKL verifier returns true or reverts; anything else is a rejection too.
        (bool ok, bytes memory ret) = verifier.call(abi.encodeCall(IHalo2Verifier.verifyProof, (proof, instances)));
        if (!ok || ret.length != 32 || abi.decode(ret, (uint256)) != 1) revert ProofRejected();
    }

    function _publish(bytes32 feedId, uint256[] calldata instances, uint256 slot, uint40 observedAt, uint48 reportId)
        internal
    {
        FeedConfig memory config = feeds[feedId];
        if (!config.enabled) revert UnknownFeed(feedId);
        uint80 roundId = latestRoundId[feedId];
        Round memory last = _rounds[feedId][roundId];
        if (roundId != 0) {
            if (observedAt <= last.observedAt) revert StaleReport(feedId, observedAt, last.observedAt);
            if (block.timestamp < uint256(last.acceptedAt) + config.minDelay) {
                revert UpdateTooSoon(feedId, last.acceptedAt, config.minDelay);
            }
        }
        if (block.timestamp - observedAt > config.maxAge) revert ReportTooOld(feedId, observedAt, config.maxAge);

        int256 answer =
            _decode(feedId, instances[FIRST_OUTPUT_INDEX + slot * outputsPerFeed + config.outputIndex], config);
        if (answer < config.minAnswer || answer > config.maxAnswer) {
            revert AnswerOutOfBounds(feedId, answer, config.minAnswer, config.maxAnswer);
        }
        if (roundId != 0) {
            int256 delta = answer - last.answer;
            if ((delta < 0 ? uint256(-delta) : uint256(delta)) > config.maxDelta) {
                revert ChangeTooLarge(feedId, last.answer, answer, config.maxDelta);
            }
        }
        ++roundId;
        latestRoundId[feedId] = roundId;
        _rounds[feedId][roundId] = Round(int128(answer), observedAt, uint40(block.timestamp), reportId);
        emit AnswerUpdated(feedId, roundId, answer, observedAt);
    }

    /// @dev Field element -> signed fixed point (scale bits) -> integer with `decimals` digits,
    ///      truncated toward zero.
    function _decode(bytes32 feedId, uint256 felt, FeedConfig memory config) internal view returns (int256) {
        int256 fixedPoint = felt.toSigned();
        if (fixedPoint > type(int192).max || fixedPoint < type(int192).min) {
            revert AnswerNotRepresentable(feedId, fixedPoint);
        }
        return fixedPoint * int256(10 ** uint256(config.decimals)) / int256(1 << outputScale);
    }
}
