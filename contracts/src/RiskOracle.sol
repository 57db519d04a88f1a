// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "solady/utils/ECDSA.sol";
import {EIP712} from "solady/utils/EIP712.sol";
import {SSTORE2} from "solady/utils/SSTORE2.sol";
import {SignedFixedPoint} from "./SignedFixedPoint.sol";
import {IHalo2Verifier} from "./interfaces/IHalo2Verifier.sol";

/// @title RiskOracle
/// @notice Publishes risk numbers (volatility, VaR, ...) proved by zk-SNARKs of registered
///         federated models, on inputs that a threshold of independent attesters checked against
///         their own market data.
/// @dev A report proves K feeds (the circuit's batch) with J outputs each. Public instances
///      (circuits/layout.py): [input commitment, model hash, output j of slot k at 2 + k*J + j];
///      outputs are signed fixed point with `outputScale` fractional bits, negative x as R - |x|.
///      Attesters sign an EIP-712 `Report(configVersion, inputCommitment, feedIds, observedAt)`:
///      the proof's input commitment (instance 0) is the one they recomputed from bars they
///      checked, for exactly those feeds (slot order) and observation times, on this chain and
///      this contract. A slot with feed id 0 is empty (the feed was left out of the round).
///      Guardrails act on the proved fixed-point values; answers are decoded for consumers as
///      fixed point x 10^decimals / 2^outputScale, truncated toward zero.
///      Storage per report: one header word and a history blob written once as contract code
///      (SSTORE2): the input commitment and one 16-byte record per slot. Per feed: one state
///      word (latest round, times, answers, window), so `latestRoundData` reads no history.
contract RiskOracle is EIP712 {
    using SignedFixedPoint for uint256;

    /// @notice A registered model (one set of federated weights), keyed by its Poseidon hash.
    struct Model {
        bool registered;
        bool retired;
        uint32 round; // federated round that produced the weights
        uint32 dpEpsilonMilli; // differential-privacy epsilon x 1000 (0: no DP)
        uint32 index; // position in `modelHashes` (reports store it instead of the hash)
        uint64 activatesAt; // reports are accepted from this time on
        bytes32 metricsHash; // hash of the evaluation metrics document
    }

    /// @notice Freshness, pacing and decoding of one feed (one storage slot).
    struct FeedConfig {
        uint32 maxAge; // largest block.timestamp - observedAt accepted
        uint32 minDelay; // seconds between accepted updates
        uint32 window; // length (s) of the cumulative-change window; 0: no window limit
        uint16 index; // feed number, set on first configuration (ties history records to a feed)
        uint8 decimals; // 8 or 18
        bool enabled;
    }

    /// @notice Guardrails of output j of a feed, in proved fixed-point units (128 bits: both
    ///         outputs of a feed share one storage slot).
    struct Limits {
        int32 minAnswer; // inclusive bounds
        int32 maxAnswer;
        uint32 maxDelta; // largest |answer - previous answer|
        uint32 maxWindowDelta; // largest |answer - the value in force when the window opened|
    }

    /// @notice What the attesters signed, minus the input commitment (which is instance 0).
    struct Report {
        uint32 configVersion;
        bytes32[] feedIds; // per slot; bytes32(0) = empty slot
        uint32[] observedAt; // per slot: close time of the feed's last bar (0 for empty slots)
    }

    /// @notice Latest state of a feed (stored packed in one word, in this field order from the
    ///         lowest bits).
    struct FeedState {
        uint32 latestRound; // reportId << 8 | slot (0: no round yet)
        uint32 observedAt;
        uint32 acceptedAt;
        uint32 windowStart; // acceptance time that opened the current window
        int32 last0; // latest answers of outputs 0 and 1 (fixed point)
        int32 last1;
        int32 anchor0; // values in force when the current window opened
        int32 anchor1;
    }

    /// @notice Attester membership, valid only for the config version it was set in.
    struct Attester {
        uint32 version;
        uint8 index;
    }

    uint256 internal constant INPUT_HASH_INDEX = 0;
    uint256 internal constant MODEL_HASH_INDEX = 1;
    uint256 internal constant FIRST_OUTPUT_INDEX = 2;
    /// @notice At most 2 outputs per feed (their history is packed two feeds to a slot).
    uint256 public constant MAX_OUTPUTS = 2;
    /// @notice Report ids fit 24 bits so that round ids (reportId << 8 | slot) fit 32.
    uint256 public constant MAX_REPORTS = (1 << 24) - 1;
    /// @notice Attesters per configuration (signers are tracked in a 256-bit bitmap).
    uint256 public constant MAX_ATTESTERS = 255;
    /// @dev secp256k1 order / 2: larger `s` values are the malleable twin of a signature.
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    bytes32 public constant REPORT_TYPEHASH =
        keccak256("Report(uint32 configVersion,uint256 inputCommitment,bytes32[] feedIds,uint32[] observedAt)");

    /// @notice The circuit's EZKL Halo2 verifier (fixed at deployment).
    address public immutable verifier;
    /// @notice Feeds proved per report (K).
    uint256 public immutable feedsPerReport;
    /// @notice Model outputs per feed (J).
    uint256 public immutable outputsPerFeed;
    /// @notice Fractional bits of the proved outputs.
    uint8 public immutable outputScale;

    /// @notice Governance role: registers models, configures feeds, attesters and transmitters.
    address public admin;
    /// @notice Proposed admin, who must call `acceptAdmin`.
    address public pendingAdmin;
    /// @notice When true anyone may submit attested reports; otherwise only allow-listed ones.
    bool public permissionless;
    /// @notice Signatures needed per report.
    uint8 public threshold;
    /// @notice Version of the attester configuration; signatures name the version they are for.
    uint32 public configVersion;
    /// @notice Number of accepted reports (report ids start at 1).
    uint32 public reportCount;
    /// @notice Number of configured feeds (feed indices start at 1).
    uint16 public feedCount;

    address[] internal _attesters;
    bytes32[] public modelHashes;
    mapping(address => Attester) internal _attesterOf;
    mapping(address => bool) public isTransmitter;
    mapping(bytes32 modelHash => Model) public models;
    mapping(bytes32 feedId => FeedConfig) public feeds;
    /// @dev Limits of output j in bits [128 j, 128 j + 128): min, max (int32), maxDelta,
    ///      maxWindowDelta (uint32), low to high.
    mapping(bytes32 feedId => uint256) internal _limits;
    mapping(bytes32 feedId => string) public feedDescription;
    /// @dev FeedState packed: 8 fields of 32 bits, `latestRound` in the lowest bits.
    mapping(bytes32 feedId => uint256) internal _state;
    /// @dev Per report: acceptedAt (bits 0-31) | model index (32-63) | history pointer (64-223).
    ///      The history blob (SSTORE2) is the input commitment (32 bytes) then, per slot, a
    ///      16-byte big-endian record: feed index (bits 0-15) | observedAt (16-47) | answer 0
    ///      (48-79) | answer 1 (80-111), answers as two's-complement int32 (0: empty slot).
    mapping(uint256 reportId => uint256) internal _header;

    event ModelRegistered(
        bytes32 indexed modelHash, uint32 round, uint32 dpEpsilonMilli, bytes32 metricsHash, uint64 activatesAt
    );
    event ModelRetired(bytes32 indexed modelHash);
    event FeedConfigured(bytes32 indexed feedId, FeedConfig config, Limits[] limits, string description);
    event AttestersSet(uint32 indexed configVersion, address[] attesters, uint8 threshold);
    event TransmitterSet(address indexed transmitter, bool allowed);
    event PermissionlessSet(bool permissionless);
    event AdminTransferStarted(address indexed admin, address indexed pendingAdmin);
    event AdminTransferred(address indexed previousAdmin, address indexed newAdmin);
    /// @notice One accepted report. `signers` is a bitmap of attester indices in
    ///         `configVersion`; `history` is the report's history blob (input commitment, then
    ///         one record per slot: see `_header`), from which every published round is decoded
    ///         (`oracle.chain.contracts.decode_history`); the round id of slot k is
    ///         reportId << 8 | k.
    event ReportAccepted(
        uint256 indexed reportId,
        bytes32 indexed modelHash,
        address indexed transmitter,
        uint32 configVersion,
        uint256 signers,
        bytes history
    );

    error VerifierHasNoCode(address verifier);
    error InvalidLayout(uint256 feedsPerReport, uint256 outputsPerFeed, uint8 outputScale);
    error NotAdmin(address caller);
    error NotPendingAdmin(address caller);
    error ZeroAddress();
    error InvalidFeedConfig(bytes32 feedId);
    error InvalidAttesterConfig(uint256 attesters, uint256 threshold);
    error ModelAlreadyRegistered(bytes32 modelHash);
    error ModelNotRegistered(bytes32 modelHash);
    error UnauthorizedTransmitter(address transmitter);
    error AttestersNotConfigured();
    error StaleConfigVersion(uint32 signedVersion, uint32 currentVersion);
    error InstanceCountMismatch(uint256 expected, uint256 actual);
    error FeedCountMismatch(uint256 expected, uint256 feedIds, uint256 observedAt);
    error InstanceOutOfField(uint256 index, uint256 value);
    error ModelNotActive(bytes32 modelHash);
    error EmptyReport();
    error ReportIdsExhausted();
    error InvalidSignature(uint256 index);
    error MalleableSignature(uint256 index);
    error UnknownSigner(address signer);
    error DuplicateSigner(address signer);
    error NotEnoughSignatures(uint256 valid, uint256 threshold);
    error ProofRejected();
    error UnknownFeed(bytes32 feedId);
    error ReportFromFuture(bytes32 feedId, uint256 observedAt, uint256 blockTimestamp);
    error ReportTooOld(bytes32 feedId, uint256 observedAt, uint256 maxAge);
    error StaleReport(bytes32 feedId, uint256 observedAt, uint256 lastObservedAt);
    error UpdateTooSoon(bytes32 feedId, uint256 lastAcceptedAt, uint256 minDelay);
    error AnswerNotRepresentable(bytes32 feedId, uint256 output, int256 fixedPoint);
    error AnswerOutOfBounds(bytes32 feedId, uint256 output, int256 answer, int256 minAnswer, int256 maxAnswer);
    error ChangeTooLarge(bytes32 feedId, uint256 output, int256 previousAnswer, int256 answer, uint256 maxDelta);
    error WindowChangeTooLarge(
        bytes32 feedId, uint256 output, int256 windowOpenAnswer, int256 answer, uint256 maxWindowDelta
    );
    error NoDataPresent(bytes32 feedId, uint256 roundId);
    error UnknownReport(uint256 reportId);
    error InvalidOutput(uint256 output, uint256 outputsPerFeed);

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Pins `verifier_`, the circuit's EZKL verifier, and the report layout.
    /// @param verifier_ EZKL `Halo2Verifier` of the circuit (must have code).
    /// @param feedsPerReport_ K, feeds proved per report (1..255).
    /// @param outputsPerFeed_ J, model outputs per feed (1..MAX_OUTPUTS).
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
        if (
            feedsPerReport_ == 0 || feedsPerReport_ > 255 || outputsPerFeed_ == 0 || outputsPerFeed_ > MAX_OUTPUTS
                || outputScale_ > 64
        ) {
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
        models[modelHash] =
            Model(true, false, round, dpEpsilonMilli, uint32(modelHashes.length), activatesAt, metricsHash);
        modelHashes.push(modelHash);
        emit ModelRegistered(modelHash, round, dpEpsilonMilli, metricsHash, activatesAt);
    }

    /// @notice Retires model `modelHash` for good: its reports are no longer accepted.
    function retireModel(bytes32 modelHash) external onlyAdmin {
        Model storage model = models[modelHash];
        if (!model.registered) revert ModelNotRegistered(modelHash);
        model.retired = true;
        emit ModelRetired(modelHash);
    }

    /// @notice Creates or updates feed `feedId` with one `Limits` per model output. Decimals are
    ///         fixed once the feed has rounds, so its history keeps one meaning.
    function configureFeed(
        bytes32 feedId,
        FeedConfig calldata config,
        Limits[] calldata outputLimits,
        string calldata description_
    ) external onlyAdmin {
        FeedConfig memory current = feeds[feedId];
        bool valid = feedId != bytes32(0) && (config.decimals == 8 || config.decimals == 18) && config.maxAge > 0
            && outputLimits.length == outputsPerFeed;
        for (uint256 j; j < outputLimits.length; ++j) {
            valid = valid && outputLimits[j].minAnswer <= outputLimits[j].maxAnswer;
        }
        if (uint32(_state[feedId]) != 0) valid = valid && config.decimals == current.decimals;
        if (!valid) revert InvalidFeedConfig(feedId);
        FeedConfig memory stored = config;
        stored.index = current.index == 0 ? ++feedCount : current.index;
        feeds[feedId] = stored;
        uint256 packed;
        for (uint256 j; j < outputLimits.length; ++j) {
            Limits calldata l = outputLimits[j];
            uint256 word = uint256(uint32(l.minAnswer)) | (uint256(uint32(l.maxAnswer)) << 32)
                | (uint256(l.maxDelta) << 64) | (uint256(l.maxWindowDelta) << 96);
            packed |= word << (128 * j);
        }
        _limits[feedId] = packed;
        feedDescription[feedId] = description_;
        emit FeedConfigured(feedId, stored, outputLimits, description_);
    }

    /// @notice Replaces the attester set and threshold; bumps `configVersion`, which invalidates
    ///         every signature made for an older configuration.
    function setAttesters(address[] calldata attesters_, uint8 threshold_) external onlyAdmin {
        uint256 n = attesters_.length;
        if (threshold_ == 0 || threshold_ > n || n > MAX_ATTESTERS) revert InvalidAttesterConfig(n, threshold_);
        uint32 version = configVersion + 1;
        for (uint256 i; i < n; ++i) {
            address a = attesters_[i];
            if (a == address(0) || _attesterOf[a].version == version) revert InvalidAttesterConfig(n, threshold_);
            _attesterOf[a] = Attester(version, uint8(i));
        }
        _attesters = attesters_;
        threshold = threshold_;
        configVersion = version;
        emit AttestersSet(version, attesters_, threshold_);
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

    /// @notice Verifies an attested, proved report and publishes one round per non-empty slot.
    /// @param report configuration version, feed ids and observation times the attesters signed.
    /// @param proof EZKL proof bytes.
    /// @param instances public instances [input commitment, model hash, K*J outputs].
    /// @param signatures at least `threshold` 65-byte signatures of distinct current attesters
    ///        over `reportDigest(report, instances[0])`.
    /// @return reportId id of the accepted report.
    function submit(
        Report calldata report,
        bytes calldata proof,
        uint256[] calldata instances,
        bytes[] calldata signatures
    ) external returns (uint256 reportId) {
        if (!permissionless && !isTransmitter[msg.sender]) {
            revert UnauthorizedTransmitter(msg.sender);
        }
        (bytes32 modelHash, uint256 signers) = _authorize(report, instances, signatures);
        _verify(proof, instances);

        reportId = uint256(reportCount) + 1;
        if (reportId > MAX_REPORTS) revert ReportIdsExhausted();
        reportCount = uint32(reportId);
        bytes memory history = _publishAll(report, instances, reportId);
        address pointer = SSTORE2.write(history);
        _header[reportId] =
            block.timestamp | (uint256(models[modelHash].index) << 32) | (uint256(uint160(pointer)) << 64);
        emit ReportAccepted(reportId, modelHash, msg.sender, report.configVersion, signers, history);
    }

    // ---------------------------------------------------------------- views

    /// @notice The EIP-712 digest attesters sign for `report` with input commitment `commitment`.
    function reportDigest(Report calldata report, uint256 commitment) public view returns (bytes32) {
        return _hashTypedData(
            keccak256(
                abi.encode(
                    REPORT_TYPEHASH,
                    report.configVersion,
                    commitment,
                    keccak256(abi.encodePacked(report.feedIds)),
                    keccak256(abi.encodePacked(report.observedAt))
                )
            )
        );
    }

    /// @notice True when `modelHash` is registered, not retired and past its activation time.
    function isActive(bytes32 modelHash) public view returns (bool) {
        Model storage model = models[modelHash];
        return model.registered && !model.retired && block.timestamp >= model.activatesAt;
    }

    /// @notice Guardrails of output `output` of `feedId`, in proved fixed-point units.
    function limits(bytes32 feedId, uint256 output) public view returns (Limits memory) {
        if (output >= outputsPerFeed) revert InvalidOutput(output, outputsPerFeed);
        return _unpackLimits(_limits[feedId], output);
    }

    /// @notice The current attester set (indices as in `ReportAccepted.signers`).
    function attesters() external view returns (address[] memory) {
        return _attesters;
    }

    /// @notice True when `account` is an attester of the current configuration.
    function isAttester(address account) public view returns (bool) {
        return configVersion != 0 && _attesterOf[account].version == configVersion;
    }

    /// @notice Latest round id of `feedId` (0 before its first round).
    function latestRoundId(bytes32 feedId) public view returns (uint256) {
        return uint32(_state[feedId]);
    }

    /// @notice Latest state of `feedId`: round, times, last answers and the window's opening values.
    function feedState(bytes32 feedId) public view returns (FeedState memory) {
        return _unpackState(_state[feedId]);
    }

    /// @notice Round `roundId` of `feedId`: observation time, acceptance time and the answers of
    ///         every output in feed units. Reverts with NoDataPresent when the feed has no such round.
    function getRound(bytes32 feedId, uint256 roundId)
        public
        view
        returns (uint256 observedAt, uint256 acceptedAt, int256[] memory answers)
    {
        uint256 record = _record(feedId, roundId);
        FeedConfig memory config = feeds[feedId];
        observedAt = uint32(record >> 16);
        acceptedAt = uint32(_header[roundId >> 8]); // a record exists, so the header does
        answers = new int256[](outputsPerFeed);
        for (uint256 j; j < answers.length; ++j) {
            answers[j] = _toAnswer(int32(uint32(record >> (48 + 32 * j))), config.decimals);
        }
    }

    /// @notice AggregatorV3-style round `roundId` of output `output` of `feedId` (the adapters'
    ///         source): startedAt and updatedAt are the observation time.
    function getRoundData(bytes32 feedId, uint256 output, uint80 roundId)
        public
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (output >= outputsPerFeed) revert InvalidOutput(output, outputsPerFeed);
        uint256 record = _record(feedId, roundId);
        answer = _toAnswer(int32(uint32(record >> (48 + 32 * output))), feeds[feedId].decimals);
        startedAt = uint32(record >> 16);
        return (roundId, answer, startedAt, startedAt, roundId);
    }

    /// @notice `getRoundData` of the latest round, read from the feed's state (no history
    ///         read); reverts with NoDataPresent before the first round.
    function latestRoundData(bytes32 feedId, uint256 output)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (output >= outputsPerFeed) revert InvalidOutput(output, outputsPerFeed);
        uint256 state = _state[feedId];
        roundId = uint32(state);
        if (roundId == 0) revert NoDataPresent(feedId, 0);
        answer = _toAnswer(int32(uint32(state >> (128 + 32 * output))), feeds[feedId].decimals);
        startedAt = updatedAt = uint32(state >> 32);
        answeredInRound = roundId;
    }

    /// @notice Report `reportId`: acceptance time, model hash, input commitment and its history
    ///         blob (as in `ReportAccepted`).
    function reportOf(uint256 reportId)
        external
        view
        returns (uint256 acceptedAt, bytes32 modelHash, uint256 inputCommitment, bytes memory history)
    {
        uint256 header = _header[reportId];
        if (header == 0) revert UnknownReport(reportId);
        history = SSTORE2.read(address(uint160(header >> 64)));
        return (uint32(header), modelHashes[uint32(header >> 32)], uint256(bytes32(history)), history);
    }

    /// @notice Input commitment proved for round `roundId` of `feedId`, for audits by data holders.
    function inputCommitmentOf(bytes32 feedId, uint256 roundId) external view returns (uint256) {
        _record(feedId, roundId);
        return uint256(bytes32(SSTORE2.read(_pointer(roundId >> 8), 0, 32)));
    }

    // ---------------------------------------------------------------- internals

    /// @dev EIP-712 domain: name and version (chain id and this address are added by EIP712).
    function _domainNameAndVersion() internal pure override returns (string memory, string memory) {
        return ("Proofcast RiskOracle", "2");
    }

    /// @dev Layout, field, model and attester checks of a report; returns its model hash and the
    ///      bitmap of the attesters who signed it.
    function _authorize(Report calldata report, uint256[] calldata instances, bytes[] calldata signatures)
        internal
        view
        returns (bytes32 modelHash, uint256 signers)
    {
        uint32 version = configVersion;
        if (version == 0) revert AttestersNotConfigured();
        if (report.configVersion != version) revert StaleConfigVersion(report.configVersion, version);
        uint256 k = feedsPerReport;
        uint256 expected = FIRST_OUTPUT_INDEX + k * outputsPerFeed;
        if (instances.length != expected) revert InstanceCountMismatch(expected, instances.length);
        if (report.feedIds.length != k || report.observedAt.length != k) {
            revert FeedCountMismatch(k, report.feedIds.length, report.observedAt.length);
        }
        for (uint256 i; i < expected; ++i) {
            if (instances[i] >= SignedFixedPoint.R) revert InstanceOutOfField(i, instances[i]);
        }
        modelHash = bytes32(instances[MODEL_HASH_INDEX]);
        if (!isActive(modelHash)) revert ModelNotActive(modelHash);
        signers = _checkSignatures(reportDigest(report, instances[INPUT_HASH_INDEX]), signatures);
    }

    /// @dev Publishes every non-empty slot; returns the report's history blob.
    function _publishAll(Report calldata report, uint256[] calldata instances, uint256 reportId)
        internal
        returns (bytes memory history)
    {
        uint256 k = feedsPerReport;
        history = new bytes(32 + 16 * k);
        uint256 commitment = instances[INPUT_HASH_INDEX];
        bool published;
        assembly ("memory-safe") {
            mstore(add(history, 0x20), commitment)
        }
        for (uint256 slot; slot < k; ++slot) {
            uint256 record = _publish(report.feedIds[slot], report.observedAt[slot], instances, slot, reportId);
            if (record == 0) continue;
            published = true;
            // 16 bytes at 32 + 16 slot: the record in the high half of a word (big-endian).
            uint256 at = 0x40 + 16 * slot;
            assembly ("memory-safe") {
                let word := mload(add(history, at))
                mstore(add(history, at), or(shl(128, record), and(word, sub(shl(128, 1), 1))))
            }
        }
        if (!published) revert EmptyReport();
    }

    /// @dev Reverts unless `signatures` hold at least `threshold` valid, canonical signatures of
    ///      distinct current attesters over `digest`; returns the bitmap of their indices.
    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) internal view returns (uint256 signers) {
        uint32 version = configVersion;
        for (uint256 i; i < signatures.length; ++i) {
            bytes calldata signature = signatures[i];
            if (signature.length != 65) revert InvalidSignature(i);
            if (uint256(bytes32(signature[32:64])) > HALF_N) revert MalleableSignature(i);
            address signer = ECDSA.tryRecoverCalldata(digest, signature);
            if (signer == address(0)) revert InvalidSignature(i);
            Attester memory attester = _attesterOf[signer];
            if (attester.version != version) revert UnknownSigner(signer);
            uint256 bit = 1 << attester.index;
            if (signers & bit != 0) revert DuplicateSigner(signer);
            signers |= bit;
        }
        if (signatures.length < threshold) revert NotEnoughSignatures(signatures.length, threshold);
    }

    function _verify(bytes calldata proof, uint256[] calldata instances) internal {
        // The EZKL verifier returns true or reverts; anything else is a rejection too.
        (bool ok, bytes memory ret) = verifier.call(abi.encodeCall(IHalo2Verifier.verifyProof, (proof, instances)));
        if (!ok || ret.length != 32 || abi.decode(ret, (uint256)) != 1) revert ProofRejected();
    }

    /// @dev Checks and stores one slot's round; returns its 128-bit history record (0: empty slot).
    function _publish(bytes32 feedId, uint256 observedAt, uint256[] calldata instances, uint256 slot, uint256 reportId)
        internal
        returns (uint256 record)
    {
        if (feedId == bytes32(0)) return 0;
        FeedConfig memory config = feeds[feedId];
        if (!config.enabled) revert UnknownFeed(feedId);
        FeedState memory state = _unpackState(_state[feedId]);
        _checkTiming(feedId, observedAt, config, state);
        // A new window opens on the first round and on the first update after the last one closed;
        // its opening values are the answers in force then (this round's own on the first round).
        bool newWindow = state.latestRound == 0 || config.window == 0
            || block.timestamp >= uint256(state.windowStart) + config.window;
        uint256 answers = _checkOutputs(
            feedId, instances, FIRST_OUTPUT_INDEX + slot * outputsPerFeed, state, newWindow, config.window
        );
        uint32 roundId = uint32(reportId << 8 | slot);
        if (newWindow) state.windowStart = uint32(block.timestamp);
        state.latestRound = roundId;
        state.observedAt = uint32(observedAt);
        state.acceptedAt = uint32(block.timestamp);
        _state[feedId] = _packState(state);
        record = uint256(config.index) | (observedAt << 16) | (answers << 48);
    }

    /// @dev Freshness and pacing of a feed's new observation.
    function _checkTiming(bytes32 feedId, uint256 observedAt, FeedConfig memory config, FeedState memory state)
        internal
        view
    {
        if (observedAt > block.timestamp) revert ReportFromFuture(feedId, observedAt, block.timestamp);
        if (block.timestamp - observedAt > config.maxAge) revert ReportTooOld(feedId, observedAt, config.maxAge);
        if (state.latestRound != 0) {
            if (observedAt <= state.observedAt) revert StaleReport(feedId, observedAt, state.observedAt);
            if (block.timestamp < uint256(state.acceptedAt) + config.minDelay) {
                revert UpdateTooSoon(feedId, state.acceptedAt, config.minDelay);
            }
        }
    }

    /// @dev Bounds, per-report change and window change of every output (instances from `base`);
    ///      updates `state`'s last and window-opening values and returns the packed answers.
    function _checkOutputs(
        bytes32 feedId,
        uint256[] calldata instances,
        uint256 base,
        FeedState memory state,
        bool newWindow,
        uint32 window
    ) internal view returns (uint256 answers) {
        bool first = state.latestRound == 0;
        uint256 packedLimits = _limits[feedId];
        for (uint256 j; j < outputsPerFeed; ++j) {
            int32 answer = _checked(feedId, j, instances[base + j]);
            Limits memory lim = _unpackLimits(packedLimits, j);
            if (answer < lim.minAnswer || answer > lim.maxAnswer) {
                revert AnswerOutOfBounds(feedId, j, answer, lim.minAnswer, lim.maxAnswer);
            }
            int32 previous = j == 0 ? state.last0 : state.last1;
            if (!first && _distance(answer, previous) > lim.maxDelta) {
                revert ChangeTooLarge(feedId, j, previous, answer, lim.maxDelta);
            }
            int32 anchor = newWindow ? (first ? answer : previous) : (j == 0 ? state.anchor0 : state.anchor1);
            if (window != 0 && _distance(answer, anchor) > lim.maxWindowDelta) {
                revert WindowChangeTooLarge(feedId, j, anchor, answer, lim.maxWindowDelta);
            }
            if (j == 0) (state.last0, state.anchor0) = (answer, anchor);
            else (state.last1, state.anchor1) = (answer, anchor);
            answers |= uint256(uint32(answer)) << (32 * j);
        }
    }

    function _unpackLimits(uint256 packed, uint256 j) internal pure returns (Limits memory) {
        uint256 word = packed >> (128 * j);
        return Limits(int32(uint32(word)), int32(uint32(word >> 32)), uint32(word >> 64), uint32(word >> 96));
    }

    /// @dev Output j of a slot as an int32 fixed-point value (reverts when it does not fit).
    function _checked(bytes32 feedId, uint256 j, uint256 felt) internal pure returns (int32) {
        int256 value = felt.toSigned();
        if (value < type(int32).min || value > type(int32).max) revert AnswerNotRepresentable(feedId, j, value);
        return int32(value);
    }

    function _distance(int32 a, int32 b) internal pure returns (uint256) {
        int256 d = int256(a) - int256(b);
        return uint256(d < 0 ? -d : d);
    }

    /// @dev The history record of round `roundId` if it belongs to `feedId`; else NoDataPresent.
    function _record(bytes32 feedId, uint256 roundId) internal view returns (uint256 record) {
        uint16 index = feeds[feedId].index;
        uint256 slot = roundId & 0xff;
        address pointer = roundId == 0 || roundId > type(uint32).max ? address(0) : _pointer(roundId >> 8);
        if (pointer != address(0) && slot < feedsPerReport) {
            record = uint128(bytes16(SSTORE2.read(pointer, 32 + 16 * slot, 48 + 16 * slot)));
        }
        if (index == 0 || uint16(record) != index) revert NoDataPresent(feedId, roundId);
    }

    function _pointer(uint256 reportId) internal view returns (address) {
        return address(uint160(_header[reportId] >> 64));
    }

    function _packState(FeedState memory s) internal pure returns (uint256) {
        return uint256(s.latestRound) | (uint256(s.observedAt) << 32) | (uint256(s.acceptedAt) << 64)
            | (uint256(s.windowStart) << 96) | (uint256(uint32(s.last0)) << 128) | (uint256(uint32(s.last1)) << 160)
            | (uint256(uint32(s.anchor0)) << 192) | (uint256(uint32(s.anchor1)) << 224);
    }

    function _unpackState(uint256 w) internal pure returns (FeedState memory) {
        return FeedState(
            uint32(w),
            uint32(w >> 32),
            uint32(w >> 64),
            uint32(w >> 96),
            int32(uint32(w >> 128)),
            int32(uint32(w >> 160)),
            int32(uint32(w >> 192)),
            int32(uint32(w >> 224))
        );
    }

    /// @dev Fixed point (outputScale bits) -> integer with `decimals` digits, truncated toward zero.
    function _toAnswer(int32 fixedPoint, uint8 decimals) internal view returns (int256) {
        return int256(fixedPoint) * int256(10 ** uint256(decimals)) / int256(1 << outputScale);
    }
}
