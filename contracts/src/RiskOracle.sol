// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "solady/utils/ECDSA.sol";
import {EIP712} from "solady/utils/EIP712.sol";
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
///      Storage per report: a ring of `historyReports` reports, each 2 + ceil(K/2) words: a
///      header (acceptance time, model, report id), the input commitment and the slots' records
///      packed two per word. Report r reuses the words of report r - historyReports, so in steady
///      state every write turns a nonzero word into another (no fresh 22,100-gas slots); rounds
///      of overwritten reports revert with RoundNotRetained, except a feed's latest round, which
///      its state word keeps. Per feed: one state word (latest round, times, answers, window),
///      whose low 32 bits count the feed's rounds, and a ring of the oracle round ids of its
///      last `historyReports` rounds (eight 32-bit ids per word): together they number the
///      feed's rounds 1, 2, 3, ... (`feedRound`, the adapters' consecutive Chainlink round ids)
///      for one extra ring-word write per feed and report.
///      Governance: the trust-relevant setters (`governed`) take effect only `governanceDelay`
///      seconds after the admin `queue`d their exact calldata; the admin then calls the setter
///      with that calldata, which consumes the queued change. Until the first accepted report
///      (initial configuration) and with a zero delay, the setters act at once. `retireModel`
///      (an emergency stop) and `cancel` always act at once.
contract RiskOracle is EIP712 {
    using SignedFixedPoint for uint256;

    /// @notice A registered model (one set of federated weights), keyed by its Poseidon hash.
    struct Model {
        bool registered;
        bool retired;
        uint32 round; // federated round that produced the weights
        uint32 dpEpsilonMilli; // user-level (one provider's data) DP epsilon x 1000 (0: none)
        uint32 index; // position in `modelHashes` (reports store it instead of the hash)
        uint64 activatesAt; // reports are accepted from this time on
        uint32 recordEpsilonMilli; // record-level (one row of a provider) DP epsilon x 1000 (0: none)
        uint8 deltaExponent; // both epsilons hold at delta = 10^-deltaExponent (0: no DP)
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
        uint32 validUntil; // the signatures expire after this block time (attesters sign minutes ahead)
        bytes32[] feedIds; // per slot; bytes32(0) = empty slot
        uint32[] observedAt; // per slot: close time of the feed's last bar (0 for empty slots)
        uint32[] previousObservedAt; // per slot: close time of the bar before it
        int32[] realizedReturn; // per slot: log return of the last close over the one before, in
        // percent, fixed point with `outputScale` bits (the unit of the VaR output)
    }

    /// @notice A feed's VaR backtest (Basel traffic light over the last `BACKTEST_WINDOW` scored
    ///         days; see `zoneOf`).
    struct Backtest {
        uint256 scoredDays; // days scored in the window (at most BACKTEST_WINDOW)
        uint256 breaches; // breaches among them (counted up to BACKTEST_MAX_BREACHES)
        uint8 zone; // ZONE_GREEN, ZONE_YELLOW or ZONE_RED
        uint256 lifetimeScoredDays;
        uint256 lifetimeBreaches;
        uint256 gaps; // observations not consecutive with the feed's previous one (not scored)
    }

    /// @notice Latest state of a feed (stored packed in one word, in this field order from the
    ///         lowest bits).
    struct FeedState {
        uint32 rounds; // rounds the feed has published (its latest per-feed round number; 0: none)
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
    bytes32 public constant REPORT_TYPEHASH = keccak256(
        "Report(uint32 configVersion,uint32 validUntil,uint256 inputCommitment,bytes32[] feedIds,uint32[] observedAt,uint32[] previousObservedAt,int32[] realizedReturn)"
    );
    /// @notice Scored days in the backtest window (Basel: 250 trading days).
    uint256 public constant BACKTEST_WINDOW = 250;
    /// @notice Breaches whose day the ledger keeps (the red zone starts at 10 at 250 days, so the
    ///         zone is exact; the window count saturates here).
    uint256 public constant BACKTEST_MAX_BREACHES = 10;
    uint8 public constant ZONE_GREEN = 0;
    uint8 public constant ZONE_YELLOW = 1;
    uint8 public constant ZONE_RED = 2;
    /// @notice `varOutput` when no output is a VaR (no backtest).
    uint8 public constant NO_BACKTEST = type(uint8).max;
    /// @dev Scored-day counts (8 bits each, ascending) from which one more breach is needed for
    ///      yellow (from 1) and for red (from 2): the smallest x with P(X >= x) at most Basel's
    ///      own tail at 250 days (P(X >= 5) = 10.78 %, P(X >= 10) = 0.025 %), X ~ Bin(days, 1 %).
    ///      At 250 days: yellow from 5 breaches, red from 10 (`models.evaluation.traffic_light`).
    uint256 internal constant YELLOW_STEPS = 12 | (56 << 8) | (115 << 16) | (181 << 24);
    uint256 internal constant RED_STEPS =
        3 | (13 << 8) | (31 << 16) | (57 << 24) | (87 << 32) | (123 << 40) | (162 << 48) | (205 << 56);

    /// @notice The circuit's EZKL Halo2 verifier (fixed at deployment).
    address public immutable verifier;
    /// @notice Feeds proved per report (K).
    uint256 public immutable feedsPerReport;
    /// @notice Model outputs per feed (J).
    uint256 public immutable outputsPerFeed;
    /// @notice Fractional bits of the proved outputs.
    uint8 public immutable outputScale;
    /// @notice Reports whose rounds stay readable by id (the history ring's length).
    uint256 public immutable historyReports;
    /// @notice The output that is a 1-day 99 % VaR in percent, backtested against the realised
    ///         returns the attesters sign (NO_BACKTEST: none).
    uint8 public immutable varOutput;
    /// @dev Storage words per report in the ring: header, input commitment, ceil(K/2) records.
    uint256 internal immutable _wordsPerReport;
    /// @notice Seconds between queueing a governed change and the earliest time it can be
    ///         executed (fixed at deployment; 0: no delay).
    uint256 public immutable governanceDelay;
    /// @notice Largest `governanceDelay` accepted at deployment.
    uint256 public constant MAX_GOVERNANCE_DELAY = 30 days;
    /// @notice Status of a change in `pendingChange`.
    uint8 public constant CHANGE_QUEUED = 1;
    uint8 public constant CHANGE_EXECUTED = 2;
    uint8 public constant CHANGE_CANCELLED = 3;

    /// @notice Governance role: registers models, configures feeds, attesters and transmitters
    ///         (through `queue` and `governanceDelay` once a report has been accepted).
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
    /// @dev FeedState packed: 8 fields of 32 bits, `rounds` in the lowest bits.
    mapping(bytes32 feedId => uint256) internal _state;
    /// @dev The history ring: report r occupies words (r % historyReports) * _wordsPerReport + w:
    ///      w = 0 header, acceptedAt (bits 0-31) | model index (32-63) | report id (64-95);
    ///      w = 1 input commitment; w = 2 + i records of slots 2i (bits 0-127) and 2i + 1
    ///      (128-255), a record being feed index (bits 0-15) | observedAt (16-47) | answer 0
    ///      (48-79) | answer 1 (80-111), answers as two's-complement int32 (0: empty slot);
    ///      bit 255 is set so that a record word is never zero.
    mapping(uint256 word => uint256) internal _history;
    /// @dev Per-feed ring of oracle round ids: the feed's round n (1-based) is at position
    ///      n % historyReports, eight 32-bit ids per word (word pos / 8, bits 32 (pos % 8)).
    mapping(bytes32 feedId => mapping(uint256 word => uint256)) internal _feedRoundIds;
    /// @dev VaR backtest ledger per feed, one word: lifetime scored days (bits 0-31), lifetime
    ///      breaches (32-63), gaps (64-95), then the scored-day numbers (mod 2^16) of the last
    ///      BACKTEST_MAX_BREACHES breaches, 16 bits each, newest in bits 96-111.
    mapping(bytes32 feedId => uint256) internal _backtest;
    /// @dev Governed changes by id (keccak256 of their calldata): eta (bits 8-255) | status
    ///      (bits 0-7: CHANGE_QUEUED, CHANGE_EXECUTED, CHANGE_CANCELLED; 0: never queued).
    mapping(bytes32 id => uint256) internal _changes;
    /// @notice The adapter the admin registered for output `output` of `feedId` (0: none). The
    ///         explorer lists these, never a contract that merely claims to be an adapter.
    mapping(bytes32 feedId => mapping(uint256 output => address)) public adapterOf;

    event ModelRegistered(
        bytes32 indexed modelHash,
        uint32 round,
        uint32 dpEpsilonMilli,
        uint32 recordEpsilonMilli,
        uint8 deltaExponent,
        bytes32 metricsHash,
        uint64 activatesAt
    );
    event ModelRetired(bytes32 indexed modelHash);
    event FeedConfigured(bytes32 indexed feedId, FeedConfig config, Limits[] limits, string description);
    event AttestersSet(uint32 indexed configVersion, address[] attesters, uint8 threshold);
    event TransmitterSet(address indexed transmitter, bool allowed);
    event PermissionlessSet(bool permissionless);
    event AdminTransferStarted(address indexed admin, address indexed pendingAdmin);
    event AdminTransferred(address indexed previousAdmin, address indexed newAdmin);
    /// @notice A governed change (`call`: the setter's calldata) can be executed from `eta` on.
    event ChangeQueued(bytes32 indexed id, bytes call, uint256 eta);
    /// @notice A queued change took effect.
    event ChangeExecuted(bytes32 indexed id);
    /// @notice A queued change was dropped by the admin.
    event ChangeCancelled(bytes32 indexed id);
    event AdapterSet(bytes32 indexed feedId, uint256 indexed output, address adapter);
    /// @notice The realised return of a scored day fell below minus the VaR published for it
    ///         (both in percent, fixed point with `outputScale` bits).
    event VaRBreached(bytes32 indexed feedId, uint256 indexed roundId, int256 realizedReturn, int256 valueAtRisk);
    /// @notice Round `roundId`'s previous bar did not close at the feed's last observation: a day
    ///         was missed, so the new return is not scored.
    event BacktestGap(
        bytes32 indexed feedId, uint256 indexed roundId, uint256 previousObservedAt, uint256 lastObservedAt
    );
    /// @notice One accepted report. `signers` is a bitmap of attester indices in
    ///         `configVersion`; `history` is the report's history blob (input commitment, then
    ///         one 16-byte big-endian record per slot: see `_history`), from which every
    ///         published round is decoded
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
    error ReportExpired(uint256 validUntil, uint256 blockTimestamp);
    error InvalidVarOutput(uint8 varOutput, uint256 outputsPerFeed);
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
    /// @notice The report was overwritten in the history ring (only the last `historyReports`
    ///         reports, and each feed's latest round, stay readable on chain; older rounds are in
    ///         the ReportAccepted events).
    error ReportNotRetained(uint256 reportId, uint256 oldestRetained);
    error RoundNotRetained(bytes32 feedId, uint256 roundId, uint256 oldestRetainedReport);
    error InvalidOutput(uint256 output, uint256 outputsPerFeed);
    error InvalidGovernanceDelay(uint256 delay);
    /// @notice Only the governed setters can be queued.
    error NotGovernable(bytes4 selector);
    /// @notice The change (its calldata's keccak256) is not queued, so it cannot take effect.
    error ChangeNotQueued(bytes32 id);
    error ChangeAlreadyQueued(bytes32 id);
    /// @notice The change's delay has not passed yet.
    error ChangeNotReady(bytes32 id, uint256 eta, uint256 blockTimestamp);

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @dev A trust-relevant setter: admin only, and after the first report only as a queued
    ///      change whose delay has passed (see `_governed`).
    modifier governed() {
        _governed();
        _;
    }

    /// @notice Pins `verifier_`, the circuit's EZKL verifier, and the report layout.
    /// @param verifier_ EZKL `Halo2Verifier` of the circuit (must have code).
    /// @param feedsPerReport_ K, feeds proved per report (1..255).
    /// @param outputsPerFeed_ J, model outputs per feed (1..MAX_OUTPUTS).
    /// @param outputScale_ fractional bits of the outputs (EZKL `model_output_scales[0]`).
    /// @param historyReports_ reports whose rounds stay readable by id (1..MAX_REPORTS).
    /// @param varOutput_ the output that is the 1-day 99 % VaR in percent (NO_BACKTEST: none).
    /// @param admin_ governance address.
    /// @param governanceDelay_ seconds a governed change waits in the queue (at most
    ///        MAX_GOVERNANCE_DELAY; production: e.g. 2 days; 0: immediate changes).
    constructor(
        address verifier_,
        uint256 feedsPerReport_,
        uint256 outputsPerFeed_,
        uint8 outputScale_,
        uint256 historyReports_,
        uint8 varOutput_,
        address admin_,
        uint256 governanceDelay_
    ) {
        if (verifier_.code.length == 0) revert VerifierHasNoCode(verifier_);
        if (
            feedsPerReport_ == 0 || feedsPerReport_ > 255 || outputsPerFeed_ == 0 || outputsPerFeed_ > MAX_OUTPUTS
                || outputScale_ > 64 || historyReports_ == 0 || historyReports_ > MAX_REPORTS
        ) {
            revert InvalidLayout(feedsPerReport_, outputsPerFeed_, outputScale_);
        }
        if (varOutput_ >= outputsPerFeed_ && varOutput_ != NO_BACKTEST) {
            revert InvalidVarOutput(varOutput_, outputsPerFeed_);
        }
        if (admin_ == address(0)) revert ZeroAddress();
        if (governanceDelay_ > MAX_GOVERNANCE_DELAY) revert InvalidGovernanceDelay(governanceDelay_);
        governanceDelay = governanceDelay_;
        verifier = verifier_;
        varOutput = varOutput_;
        feedsPerReport = feedsPerReport_;
        outputsPerFeed = outputsPerFeed_;
        outputScale = outputScale_;
        historyReports = historyReports_;
        _wordsPerReport = 2 + (feedsPerReport_ + 1) / 2;
        admin = admin_;
        emit AdminTransferred(address(0), admin_);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Registers model `modelHash` (the proof's model-hash instance) with its metadata.
    ///         Governed (queued, then delayed, after the first report).
    /// @param modelHash Poseidon hash of the quantised weights (`models.identity.model_hash`).
    /// @param round federated round that produced the weights.
    /// @param dpEpsilonMilli user-level (provider) differential-privacy epsilon x 1000 (0: none).
    /// @param recordEpsilonMilli record-level (row) DP-SGD epsilon x 1000 (0: none).
    /// @param deltaExponent both epsilons hold at delta = 10^-deltaExponent (0: no DP).
    /// @param metricsHash hash of the evaluation metrics document.
    /// @param activatesAt reports are accepted from this timestamp on.
    function registerModel(
        bytes32 modelHash,
        uint32 round,
        uint32 dpEpsilonMilli,
        uint32 recordEpsilonMilli,
        uint8 deltaExponent,
        bytes32 metricsHash,
        uint64 activatesAt
    ) external governed {
        if (models[modelHash].registered) revert ModelAlreadyRegistered(modelHash);
        models[modelHash] = Model(
            true,
            false,
            round,
            dpEpsilonMilli,
            uint32(modelHashes.length),
            activatesAt,
            recordEpsilonMilli,
            deltaExponent,
            metricsHash
        );
        modelHashes.push(modelHash);
        emit ModelRegistered(
            modelHash, round, dpEpsilonMilli, recordEpsilonMilli, deltaExponent, metricsHash, activatesAt
        );
    }

    /// @notice Retires model `modelHash` for good: its reports are no longer accepted. Takes
    ///         effect at once (the emergency stop: it can only remove trust, never add it).
    function retireModel(bytes32 modelHash) external onlyAdmin {
        Model storage model = models[modelHash];
        if (!model.registered) revert ModelNotRegistered(modelHash);
        model.retired = true;
        emit ModelRetired(modelHash);
    }

    /// @notice Creates or updates feed `feedId` with one `Limits` per model output. Decimals are
    ///         fixed once the feed has rounds, so its history keeps one meaning. Governed.
    function configureFeed(
        bytes32 feedId,
        FeedConfig calldata config,
        Limits[] calldata outputLimits,
        string calldata description_
    ) external governed {
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
    ///         every signature made for an older configuration. Governed.
    function setAttesters(address[] calldata attesters_, uint8 threshold_) external governed {
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

    /// @notice Allows or disallows `transmitter` (used when not permissionless). Governed.
    function setTransmitter(address transmitter, bool allowed) external governed {
        isTransmitter[transmitter] = allowed;
        emit TransmitterSet(transmitter, allowed);
    }

    /// @notice Switches between permissionless submission and the transmitter allow-list.
    ///         Governed.
    function setPermissionless(bool permissionless_) external governed {
        permissionless = permissionless_;
        emit PermissionlessSet(permissionless_);
    }

    /// @notice Starts handing the admin role to `newAdmin` (who must accept). Governed.
    function transferAdmin(address newAdmin) external governed {
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

    /// @notice Registers `adapter` as the Chainlink adapter of output `output` of `feedId`
    ///         (address(0): none), the address explorers show. Governed.
    function setAdapter(bytes32 feedId, uint256 output, address adapter) external governed {
        if (output >= outputsPerFeed) revert InvalidOutput(output, outputsPerFeed);
        adapterOf[feedId][output] = adapter;
        emit AdapterSet(feedId, output, adapter);
    }

    /// @notice Queues a governed change: `call` is the exact calldata of a governed setter
    ///         (`registerModel`, `configureFeed`, `setAttesters`, `setTransmitter`,
    ///         `setPermissionless`, `transferAdmin`, `setAdapter`), which the admin may send from
    ///         `block.timestamp + governanceDelay` on.
    /// @param call the setter's calldata (selector and ABI-encoded arguments), exactly as it
    ///        will be sent.
    /// @return id keccak256(call), the change's key in `pendingChange` and the events.
    /// @return eta earliest execution time.
    function queue(bytes calldata call) external onlyAdmin returns (bytes32 id, uint256 eta) {
        bytes4 selector = bytes4(call);
        if (
            selector != this.registerModel.selector && selector != this.configureFeed.selector
                && selector != this.setAttesters.selector && selector != this.setTransmitter.selector
                && selector != this.setPermissionless.selector && selector != this.transferAdmin.selector
                && selector != this.setAdapter.selector
        ) revert NotGovernable(selector);
        id = keccak256(call);
        if (uint8(_changes[id]) == CHANGE_QUEUED) revert ChangeAlreadyQueued(id);
        eta = block.timestamp + governanceDelay;
        _changes[id] = eta << 8 | CHANGE_QUEUED;
        emit ChangeQueued(id, call, eta);
    }

    /// @notice Drops queued change `id` (it can be queued again later, with a new delay).
    /// @param id keccak256 of the change's calldata.
    function cancel(bytes32 id) external onlyAdmin {
        uint256 change = _changes[id];
        if (uint8(change) != CHANGE_QUEUED) revert ChangeNotQueued(id);
        _changes[id] = change ^ (CHANGE_QUEUED ^ CHANGE_CANCELLED);
        emit ChangeCancelled(id);
    }

    /// @notice Change `id` (keccak256 of its calldata): its earliest execution time and status
    ///         (0: never queued, CHANGE_QUEUED, CHANGE_EXECUTED or CHANGE_CANCELLED; the last
    ///         queueing's eta).
    function pendingChange(bytes32 id) external view returns (uint256 eta, uint8 status) {
        uint256 change = _changes[id];
        return (change >> 8, uint8(change));
    }

    // ---------------------------------------------------------------- reports

    /// @notice Verifies an attested, proved report and publishes one round per non-empty slot.
    /// @param report what the attesters signed: configuration version, expiry, and per slot the
    ///        feed, its observation time, the previous bar's close time and the realised return.
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
        uint256 base = (reportId % historyReports) * _wordsPerReport;
        bytes memory history = _publishAll(report, instances, reportId, base);
        _history[base] = block.timestamp | (uint256(models[modelHash].index) << 32) | (reportId << 64);
        _history[base + 1] = instances[INPUT_HASH_INDEX];
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
                    report.validUntil,
                    commitment,
                    _hashWords(report.feedIds),
                    _hashWords(report.observedAt),
                    _hashWords(report.previousObservedAt),
                    _hashWords(report.realizedReturn)
                )
            )
        );
    }

    /// @dev EIP-712 hash of a bytes32[] (`keccak256(abi.encodePacked(ids))`) in one copy.
    function _hashWords(bytes32[] calldata ids) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, ids.offset, shl(5, ids.length))
            hash := keccak256(m, shl(5, ids.length))
        }
    }

    /// @dev EIP-712 hash of a uint32[] (`abi.encodePacked` pads each element to a word, as the
    ///      calldata holds it) in one copy. A word with dirty high bits hashes differently from
    ///      the value attesters signed, so it cannot pass the signature check.
    function _hashWords(uint32[] calldata words) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, words.offset, shl(5, words.length))
            hash := keccak256(m, shl(5, words.length))
        }
    }

    /// @dev EIP-712 hash of an int32[] (each element sign-extended to a word, as the calldata
    ///      holds it; dirty words hash differently, as for `uint32[]`).
    function _hashWords(int32[] calldata words) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, words.offset, shl(5, words.length))
            hash := keccak256(m, shl(5, words.length))
        }
    }

    /// @notice The VaR backtest of `feedId`: over the last BACKTEST_WINDOW scored days, the
    ///         days scored, the breaches and the traffic-light zone, and the lifetime totals.
    function backtest(bytes32 feedId) external view returns (Backtest memory b) {
        uint256 ledger = _backtest[feedId];
        uint256 scored = uint32(ledger);
        b.lifetimeScoredDays = scored;
        b.lifetimeBreaches = uint32(ledger >> 32);
        b.gaps = uint32(ledger >> 64);
        b.scoredDays = scored < BACKTEST_WINDOW ? scored : BACKTEST_WINDOW;
        uint256 kept = b.lifetimeBreaches < BACKTEST_MAX_BREACHES ? b.lifetimeBreaches : BACKTEST_MAX_BREACHES;
        for (uint256 i; i < kept; ++i) {
            // Breach days are kept mod 2^16, newest first: the age is their 16-bit difference.
            uint256 day = uint16(ledger >> (96 + 16 * i));
            uint256 age;
            unchecked {
                age = uint16(scored - day);
            }
            if (age >= BACKTEST_WINDOW) break;
            ++b.breaches;
        }
        b.zone = zoneOf(b.scoredDays, b.breaches);
    }

    /// @notice The Basel traffic-light zone of `breaches` among `scoredDays` (<= 250) days of a
    ///         99 % VaR. At 250 days: green up to 4, yellow 5-9, red from 10. With fewer days the
    ///         boundaries keep Basel's tail probabilities at 250 days: yellow from the smallest
    ///         count x with P(X >= x) <= 10.78 %, red with P(X >= x) <= 0.025 %, X ~ Bin(days, 1 %)
    ///         (e.g. 30 days: yellow from 2 breaches, red from 4).
    function zoneOf(uint256 scoredDays, uint256 breaches) public pure returns (uint8) {
        uint256 red = 2;
        for (uint256 steps = RED_STEPS; steps != 0; steps >>= 8) {
            if (scoredDays >= uint8(steps)) ++red;
        }
        if (breaches >= red) return ZONE_RED;
        uint256 yellow = 1;
        for (uint256 steps = YELLOW_STEPS; steps != 0; steps >>= 8) {
            if (scoredDays >= uint8(steps)) ++yellow;
        }
        return breaches >= yellow ? ZONE_YELLOW : ZONE_GREEN;
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

    /// @notice Latest oracle round id (reportId << 8 | slot) of `feedId` (0 before its first
    ///         round).
    function latestRoundId(bytes32 feedId) public view returns (uint256) {
        uint256 rounds = uint32(_state[feedId]);
        return rounds == 0 ? 0 : _ringRoundId(feedId, rounds);
    }

    /// @notice Latest state of `feedId`: round, times, last answers and the window's opening values.
    function feedState(bytes32 feedId) public view returns (FeedState memory) {
        return _unpackState(_state[feedId]);
    }

    /// @notice Round `roundId` of `feedId`: observation time, acceptance time and the answers of
    ///         every output in feed units. Reverts with NoDataPresent when the feed has no such
    ///         round and RoundNotRetained when its report left the history ring (the latest round
    ///         of a feed is always readable).
    function getRound(bytes32 feedId, uint256 roundId)
        public
        view
        returns (uint256 observedAt, uint256 acceptedAt, int256[] memory answers)
    {
        uint256 state = _state[feedId];
        uint256 record;
        if (roundId != 0 && roundId == latestRoundId(feedId)) {
            record = _stateRecord(state);
            acceptedAt = uint32(state >> 64);
        } else {
            uint256 base;
            (base, record) = _locate(feedId, roundId);
            acceptedAt = uint32(_history[base]);
        }
        uint8 decimals = feeds[feedId].decimals;
        observedAt = uint32(record >> 16);
        answers = new int256[](outputsPerFeed);
        for (uint256 j; j < answers.length; ++j) {
            answers[j] = _toAnswer(int32(uint32(record >> (48 + 32 * j))), decimals);
        }
    }

    /// @notice Rounds `feedId` has published: its per-feed round numbers are 1..feedRounds.
    function feedRounds(bytes32 feedId) public view returns (uint256) {
        return uint32(_state[feedId]);
    }

    /// @notice The feed's round number `n` (1, 2, 3, ... per feed; 0: its latest round), the
    ///         adapters' Chainlink round id: its oracle round id (reportId << 8 | slot) and what
    ///         `getRound` returns for it. Reverts with NoDataPresent(feedId, n) when the feed has
    ///         no round n and RoundNotRetained(feedId, n, oldest retained report) when it left
    ///         the history (the latest round is always readable).
    function feedRound(bytes32 feedId, uint256 n)
        external
        view
        returns (uint256 number, uint256 roundId, uint256 observedAt, uint256 acceptedAt, int256[] memory answers)
    {
        uint256 count = feedRounds(feedId);
        number = n == 0 ? count : n;
        if (number == 0 || number > count) revert NoDataPresent(feedId, n);
        roundId = _ringRoundId(feedId, number);
        if (number != count) {
            // A ring position is reused historyReports rounds of the feed later; by then its
            // report (at least as many reports older) has left the history ring too.
            uint256 oldest = _oldestRetained(reportCount);
            if (count - number >= historyReports || roundId >> 8 < oldest) {
                revert RoundNotRetained(feedId, number, oldest);
            }
        }
        (observedAt, acceptedAt, answers) = getRound(feedId, roundId);
    }

    /// @notice Report `reportId`: acceptance time, model hash, input commitment and its history
    ///         blob (as in `ReportAccepted`). Reverts with UnknownReport for an id never issued
    ///         and ReportNotRetained once the report left the history ring.
    function reportOf(uint256 reportId)
        external
        view
        returns (uint256 acceptedAt, bytes32 modelHash, uint256 inputCommitment, bytes memory history)
    {
        uint256 count = reportCount;
        if (reportId == 0 || reportId > count) revert UnknownReport(reportId);
        uint256 oldest = _oldestRetained(count);
        if (reportId < oldest) revert ReportNotRetained(reportId, oldest);
        uint256 base = (reportId % historyReports) * _wordsPerReport;
        uint256 header = _history[base];
        inputCommitment = _history[base + 1];
        uint256 k = feedsPerReport;
        history = new bytes(32 + 16 * k);
        assembly ("memory-safe") {
            mstore(add(history, 0x20), inputCommitment)
        }
        for (uint256 slot; slot < k; ++slot) {
            uint256 record = uint112(_history[base + 2 + slot / 2] >> (128 * (slot & 1)));
            _putRecord(history, slot, record);
        }
        return (uint32(header), modelHashes[uint32(header >> 32)], inputCommitment, history);
    }

    /// @notice Input commitment proved for round `roundId` of `feedId`, for audits by data
    ///         holders (while its report is in the history ring; else RoundNotRetained).
    function inputCommitmentOf(bytes32 feedId, uint256 roundId) external view returns (uint256) {
        (uint256 base,) = _locate(feedId, roundId);
        return _history[base + 1];
    }

    // ---------------------------------------------------------------- internals

    /// @dev Admin only. While changes are immediate (no delay, or no report accepted yet: the
    ///      initial configuration) the call acts at once; otherwise its calldata must be a queued
    ///      change past its eta. A queued change is consumed either way (ChangeExecuted).
    function _governed() internal {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        bytes32 id = keccak256(msg.data);
        uint256 change = _changes[id];
        bool immediate = governanceDelay == 0 || reportCount == 0;
        if (uint8(change) == CHANGE_QUEUED) {
            uint256 eta = change >> 8;
            if (!immediate && block.timestamp < eta) revert ChangeNotReady(id, eta, block.timestamp);
            _changes[id] = change ^ (CHANGE_QUEUED ^ CHANGE_EXECUTED);
            emit ChangeExecuted(id);
        } else if (!immediate) {
            revert ChangeNotQueued(id);
        }
    }

    /// @dev EIP-712 domain: name and version (chain id and this address are added by EIP712).
    function _domainNameAndVersion() internal pure override returns (string memory, string memory) {
        return ("Proofcast RiskOracle", "3");
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
        if (block.timestamp > report.validUntil) revert ReportExpired(report.validUntil, block.timestamp);
        uint256 k = feedsPerReport;
        uint256 expected = FIRST_OUTPUT_INDEX + k * outputsPerFeed;
        if (instances.length != expected) revert InstanceCountMismatch(expected, instances.length);
        if (
            report.feedIds.length != k || report.observedAt.length != k || report.previousObservedAt.length != k
                || report.realizedReturn.length != k
        ) {
            revert FeedCountMismatch(k, report.feedIds.length, report.observedAt.length);
        }
        for (uint256 i; i < expected; ++i) {
            if (instances[i] >= SignedFixedPoint.R) revert InstanceOutOfField(i, instances[i]);
        }
        modelHash = bytes32(instances[MODEL_HASH_INDEX]);
        if (!isActive(modelHash)) revert ModelNotActive(modelHash);
        signers = _checkSignatures(reportDigest(report, instances[INPUT_HASH_INDEX]), signatures);
    }

    /// @dev Publishes every non-empty slot into the ring words at `base`; returns the report's
    ///      history blob (for the event).
    function _publishAll(Report calldata report, uint256[] calldata instances, uint256 reportId, uint256 base)
        internal
        returns (bytes memory history)
    {
        uint256 k = feedsPerReport;
        history = new bytes(32 + 16 * k);
        assembly ("memory-safe") {
            mstore(add(history, 0x20), calldataload(instances.offset))
        }
        bool published;
        uint256 pair; // records of the current slot pair (bit 254: one of them is published)
        for (uint256 slot; slot < k; ++slot) {
            uint256 record = _publish(report, instances, slot, reportId);
            unchecked {
                // Unchecked: slot < k <= 255, base + 2 + slot / 2 is a ring word index.
                if (record != 0) {
                    _putRecord(history, slot, record);
                    pair |= (record << (128 * (slot & 1))) | (1 << 254);
                }
                if (slot & 1 == 1 || slot == k - 1) {
                    _history[base + 2 + slot / 2] = pair | (1 << 255); // never zero: no fresh slot
                    published = published || pair != 0;
                    pair = 0;
                }
            }
        }
        if (!published) revert EmptyReport();
    }

    /// @dev Writes `record` as the 16 big-endian bytes of slot `slot` of a history blob.
    function _putRecord(bytes memory history, uint256 slot, uint256 record) internal pure {
        assembly ("memory-safe") {
            let at := add(history, add(0x40, mul(16, slot)))
            mstore(at, or(shl(128, record), and(mload(at), sub(shl(128, 1), 1))))
        }
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

    /// @dev Checks and stores one slot's round; returns its 112-bit history record (0: empty
    ///      slot). Works on the packed words (FeedConfig's storage slot: maxAge bits 0-31,
    ///      minDelay 32-63, window 64-95, index 96-111, decimals 112-119, enabled 120-127).
    function _publish(Report calldata report, uint256[] calldata instances, uint256 slot, uint256 reportId)
        internal
        returns (uint256 record)
    {
        bytes32 feedId = report.feedIds[slot];
        if (feedId == bytes32(0)) return 0;
        uint256 observedAt = report.observedAt[slot];
        uint256 config = _configWord(feedId);
        if (uint8(config >> 120) == 0) revert UnknownFeed(feedId);
        uint256 state = _state[feedId];
        _checkTiming(feedId, observedAt, config, state);
        uint256 roundId = reportId << 8 | slot;
        if (varOutput != NO_BACKTEST && uint32(state) != 0) {
            _score(feedId, roundId, state, report.previousObservedAt[slot], report.realizedReturn[slot]);
        }
        uint256 answers;
        uint256 first;
        unchecked {
            first = FIRST_OUTPUT_INDEX + slot * outputsPerFeed; // slot < 256, outputsPerFeed <= 2
        }
        uint256 rounds;
        unchecked {
            rounds = uint32(state) + 1; // at most MAX_REPORTS rounds
        }
        (answers, state) = _checkOutputs(feedId, instances, first, uint32(config >> 64), state);
        _state[feedId] = rounds | (observedAt << 32) | (block.timestamp << 64) | state;
        _numberRound(feedId, rounds, roundId);
        record = uint16(config >> 96) | (observedAt << 16) | (answers << 48);
    }

    /// @dev Stores oracle round id `roundId` as the feed's round number `n` in its ring.
    function _numberRound(bytes32 feedId, uint256 n, uint256 roundId) internal {
        // Unchecked: shifts are below 256.
        unchecked {
            uint256 pos = n % historyReports;
            mapping(uint256 => uint256) storage ring = _feedRoundIds[feedId];
            uint256 shift = 32 * (pos & 7);
            ring[pos >> 3] = (ring[pos >> 3] & ~(uint256(type(uint32).max) << shift)) | (roundId << shift);
        }
    }

    /// @dev Oracle round id of the feed's round number `n` as its ring holds it (valid while
    ///      the feed has fewer than `historyReports` rounds after `n`).
    function _ringRoundId(bytes32 feedId, uint256 n) internal view returns (uint256) {
        uint256 pos = n % historyReports;
        return uint32(_feedRoundIds[feedId][pos >> 3] >> (32 * (pos & 7)));
    }

    /// @dev Scores the VaR the feed published last (`state`, before this round) against the
    ///      realised return of the bar that closed since: a breach when the return is below minus
    ///      the VaR. Only a consecutive bar is scored (its previous bar closed at the feed's last
    ///      observation); otherwise the round is counted as a gap.
    function _score(bytes32 feedId, uint256 roundId, uint256 state, uint256 previousObservedAt, int256 realized)
        internal
    {
        uint256 ledger = _backtest[feedId];
        uint256 lastObservedAt = uint32(state >> 32);
        // Unchecked: 32-bit counters of days cannot reach 2^32; shifts are constant.
        unchecked {
            if (previousObservedAt != lastObservedAt) {
                _backtest[feedId] = ledger + (1 << 64);
                emit BacktestGap(feedId, roundId, previousObservedAt, lastObservedAt);
                return;
            }
            ledger += 1; // one more scored day
            int256 valueAtRisk = int32(uint32(state >> (128 + 32 * uint256(varOutput))));
            if (realized < -valueAtRisk) {
                uint256 days_ = uint16(ledger);
                uint256 recent = ((ledger >> 96) << 16 | days_) & ((1 << (16 * BACKTEST_MAX_BREACHES)) - 1);
                ledger = (uint96(ledger) + (1 << 32)) | (recent << 96);
                emit VaRBreached(feedId, roundId, realized, valueAtRisk);
            }
            _backtest[feedId] = ledger;
        }
    }

    /// @dev The packed storage word of `feeds[feedId]`.
    function _configWord(bytes32 feedId) internal view returns (uint256 config) {
        FeedConfig storage stored = feeds[feedId];
        assembly ("memory-safe") {
            config := sload(stored.slot)
        }
    }

    /// @dev Freshness and pacing of a feed's new observation (packed config and state words).
    function _checkTiming(bytes32 feedId, uint256 observedAt, uint256 config, uint256 state) internal view {
        if (observedAt > block.timestamp) revert ReportFromFuture(feedId, observedAt, block.timestamp);
        // Unchecked: observedAt <= block.timestamp; times and delays are 32-bit.
        unchecked {
            if (block.timestamp - observedAt > uint32(config)) {
                revert ReportTooOld(feedId, observedAt, uint32(config));
            }
            if (uint32(state) != 0) {
                uint256 lastObservedAt = uint32(state >> 32);
                if (observedAt <= lastObservedAt) revert StaleReport(feedId, observedAt, lastObservedAt);
                uint256 acceptedAt = uint32(state >> 64);
                uint256 minDelay = uint32(config >> 32);
                if (block.timestamp < acceptedAt + minDelay) revert UpdateTooSoon(feedId, acceptedAt, minDelay);
            }
        }
    }

    /// @dev Bounds, per-report change and window change of every output (instances from `base`);
    ///      returns the packed answers (32 bits per output) and the new state's bits 96-255
    ///      (window start, answers, window-opening values).
    function _checkOutputs(bytes32 feedId, uint256[] calldata instances, uint256 base, uint256 window, uint256 state)
        internal
        view
        returns (uint256 answers, uint256 upper)
    {
        // A new window opens on the first round and on the first update after the last one closed;
        // its opening values are the answers in force then (this round's own on the first round).
        // Per-output context: limits (bits 0-127), previous answer (128-159), window-opening value
        // (160-191), flags: first round (192), new window (193), window limit applies (194).
        // Unchecked: shifts and offsets are small (j < outputsPerFeed <= 2), times 32-bit.
        unchecked {
            uint256 flags = (uint32(state) == 0 ? 1 << 192 : 0) | (window != 0 ? 1 << 194 : 0);
            if (uint32(state) == 0 || window == 0 || block.timestamp >= uint256(uint32(state >> 96)) + window) {
                flags |= 1 << 193;
            }
            uint256 packedLimits = _limits[feedId];
            for (uint256 j; j < outputsPerFeed; ++j) {
                (uint256 answer, uint256 anchor) = _checkOutput(
                    feedId,
                    j,
                    instances[base + j],
                    uint128(packedLimits >> (128 * j)) | (uint256(uint32(state >> (128 + 32 * j))) << 128)
                        | (uint256(uint32(state >> (192 + 32 * j))) << 160) | flags
                );
                answers |= answer << (32 * j);
                upper |= anchor << (192 + 32 * j);
            }
            upper |= ((flags & (1 << 193) != 0 ? block.timestamp : uint32(state >> 96)) << 96) | (answers << 128);
        }
    }

    /// @dev Guardrails of output j given its `context` (see `_checkOutputs`); returns the answer
    ///      and the window-opening value as 32-bit two's complement.
    function _checkOutput(bytes32 feedId, uint256 j, uint256 felt, uint256 context)
        internal
        pure
        returns (uint256, uint256)
    {
        int256 answer = _checked(feedId, j, felt);
        if (answer < int32(uint32(context)) || answer > int32(uint32(context >> 32))) {
            revert AnswerOutOfBounds(feedId, j, answer, int32(uint32(context)), int32(uint32(context >> 32)));
        }
        int256 previous = context & (1 << 192) != 0 ? answer : int256(int32(uint32(context >> 128)));
        if (_distance(answer, previous) > uint32(context >> 64)) {
            revert ChangeTooLarge(feedId, j, previous, answer, uint32(context >> 64));
        }
        int256 anchor = context & (1 << 193) != 0 ? previous : int256(int32(uint32(context >> 160)));
        if (context & (1 << 194) != 0 && _distance(answer, anchor) > uint32(context >> 96)) {
            revert WindowChangeTooLarge(feedId, j, anchor, answer, uint32(context >> 96));
        }
        return (uint32(int32(answer)), uint32(int32(anchor)));
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

    /// @dev |a - b| of two int32 values (unchecked: cannot overflow).
    function _distance(int256 a, int256 b) internal pure returns (uint256) {
        unchecked {
            int256 d = a - b;
            return uint256(d < 0 ? -d : d);
        }
    }

    /// @dev Oldest report still in the history ring when `count` reports exist.
    function _oldestRetained(uint256 count) internal view returns (uint256) {
        return count > historyReports ? count - historyReports + 1 : 1;
    }

    /// @dev Ring base and record of round `roundId` if it belongs to `feedId`; NoDataPresent when
    ///      the feed has no such round, RoundNotRetained when its report was overwritten.
    function _locate(bytes32 feedId, uint256 roundId) internal view returns (uint256 base, uint256 record) {
        uint16 index = feeds[feedId].index;
        uint256 reportId = roundId >> 8;
        uint256 slot = roundId & 0xff;
        uint256 count = reportCount;
        if (index == 0 || reportId == 0 || reportId > count || slot >= feedsPerReport) {
            revert NoDataPresent(feedId, roundId);
        }
        uint256 oldest = _oldestRetained(count);
        if (reportId < oldest) revert RoundNotRetained(feedId, roundId, oldest);
        base = (reportId % historyReports) * _wordsPerReport;
        record = uint112(_history[base + 2 + slot / 2] >> (128 * (slot & 1)));
        if (uint16(record) != index) revert NoDataPresent(feedId, roundId);
    }

    /// @dev The latest round of a feed as a history record (without the feed index).
    function _stateRecord(uint256 state) internal pure returns (uint256) {
        return (uint256(uint32(state >> 32)) << 16) | (uint256(uint64(state >> 128)) << 48);
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
