"""What attesters sign and check: observations, the canonical rule, the proposal, its EIP-712
digest, bars on the wire.

Shared by the attester service, the transmitting node and the tests, so the digests, the bar
encoding, the canonical rule and the input commitment exist once.

Two phases (OCR style). 1. Each attester signs its own observation of the requested feeds'
recent bars (`sign_observation`: EIP-712 over chain id, oracle, attester, feed ids and a hash
of the values, `observation_values_hash`). 2. The transmitter proposes a report whose bars and
features are a fixed public function of at least 2f+1 such observations (`canonical_slot`):
per day and field the lower median of the observed values (the bars: what the realised return,
the tolerance and plausibility checks use), and per feature the lower median of the features
each observation gives (what the proof and the commitment are over). With at most f of the
observations lying, every median lies between two honest values, so neither the transmitter
(it may only choose which observations to include) nor f attesters can move an input outside
the honest attesters' own range. The commitment is `models.identity.
poseidon_fixed_point` of the K x F feature matrix at the circuit's input scale, exactly what
EZKL puts in the proof's first instance (zero rows for empty slots); features come from
`models.features.latest_features`, the function training uses.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_address, keccak, to_checksum_address

from models.data import DataValidationError, PriceSeries
from models.features import NUM_FEATURES, latest_features, log_returns
from models.identity import poseidon_fixed_point
from oracle.chain.contracts import EMPTY_SLOT, SlotReport, feed_id

DOMAIN_NAME = "Proofcast RiskOracle"  # RiskOracle's EIP-712 domain (contracts/src/RiskOracle.sol)
DOMAIN_VERSION = "3"
# How long attesters' signatures stay usable: minutes, not the feed's maxAge, so a report cannot
# be held back and published later (selective publication) or outlive a configuration change.
SIGNATURE_TTL = 300
BAR_FIELDS = ("open", "high", "low", "close")
# uint256 instances are field elements of BN254: a commitment at or above this is no commitment.
FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617


# The domain fields of both messages attesters sign (the report and their observations).
EIP712_DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
OBSERVATION_DOMAIN = "Proofcast Observation"  # off chain only: no contract recovers it
OBSERVATION_VERSION = "1"


class ProposalError(ValueError):
    """A proposal that is not well formed (wrong types, lengths or values)."""


class NotCanonicalError(ProposalError):
    """Observations the canonical rule cannot be applied to (they disagree on the days or the
    fields of a feed, or a feed is missing from one of them)."""


def typed_data(chain_id: int, oracle: str, report: SlotReport, commitment: int) -> dict[str, Any]:
    """The EIP-712 message RiskOracle recovers signers from (`reportDigest`)."""
    return {
        "types": {
            "EIP712Domain": EIP712_DOMAIN_TYPES,
            "Report": [
                {"name": "configVersion", "type": "uint32"},
                {"name": "validUntil", "type": "uint32"},
                {"name": "inputCommitment", "type": "uint256"},
                {"name": "feedIds", "type": "bytes32[]"},
                {"name": "observedAt", "type": "uint32[]"},
                {"name": "previousObservedAt", "type": "uint32[]"},
                {"name": "realizedReturn", "type": "int32[]"},
            ],
        },
        "primaryType": "Report",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(oracle),
        },
        "message": {
            "configVersion": report.config_version,
            "validUntil": report.valid_until,
            "inputCommitment": commitment,
            "feedIds": list(report.feed_ids),
            "observedAt": list(report.observed_at),
            "previousObservedAt": report.as_tuple()[4],
            "realizedReturn": report.as_tuple()[5],
        },
    }


def digest(chain_id: int, oracle: str, report: SlotReport, commitment: int) -> bytes:
    """The 32-byte EIP-712 digest (what `RiskOracle.reportDigest` returns)."""
    m = encode_typed_data(full_message=typed_data(chain_id, oracle, report, commitment))
    return keccak(b"\x19" + m.version + m.header + m.body)


def sign_report(key: str, chain_id: int, oracle: str, report: SlotReport, commitment: int) -> bytes:
    """65-byte (r, s, v) signature with low s, as RiskOracle requires."""
    message = encode_typed_data(full_message=typed_data(chain_id, oracle, report, commitment))
    return bytes(Account.sign_message(message, key).signature)


def recover_signer(
    chain_id: int, oracle: str, report: SlotReport, commitment: int, signature: bytes
) -> str:
    """The address that signed `report` (raises on a malformed signature)."""
    message = encode_typed_data(full_message=typed_data(chain_id, oracle, report, commitment))
    return Account.recover_message(message, signature=signature)


# ---------------------------------------------------------------------------- bars on the wire


def bars_to_json(series: PriceSeries) -> dict[str, Any]:
    """Daily bars as JSON: ISO dates and floats (repr round-trips exactly)."""
    out: dict[str, Any] = {"dates": [str(np.datetime64(d, "D")) for d in series.dates]}
    for name in (*BAR_FIELDS, "volume"):
        values = getattr(series, name)
        out[name] = None if values is None else [float(v) for v in values]
    return out


def bars_from_json(name: str, data: Any) -> PriceSeries:
    """The inverse of `bars_to_json`; ProposalError names what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("dates"), list):
        raise ProposalError(f"{name}: bars must be an object with a 'dates' list")
    n = len(data["dates"])
    try:
        dates = np.array(data["dates"], dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise ProposalError(f"{name}: bad bar date: {exc}") from None

    def column(field: str, required: bool) -> np.ndarray | None:
        values = data.get(field)
        if values is None and not required:
            return None
        if not isinstance(values, list) or len(values) != n:
            raise ProposalError(f"{name}: bars.{field} must be a list of {n} numbers")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ProposalError(f"{name}: bars.{field} must hold numbers only")
        return np.asarray(values, dtype=np.float64)

    try:
        return PriceSeries(
            name=name,
            dates=dates,
            open=column("open", False),
            high=column("high", False),
            low=column("low", False),
            close=column("close", True),  # type: ignore[arg-type]
            volume=column("volume", False),
        )
    except DataValidationError as exc:
        raise ProposalError(f"{name}: invalid bars: {exc}") from None


def close_time(series: PriceSeries, back: int = 0) -> int:
    """Unix seconds at which the last daily bar closed (its date + 1 day, 00:00 UTC): the
    oracle's `observedAt` for a forecast made on that bar (`back` bars earlier with `back`)."""
    last = np.datetime64(series.dates[-1 - back], "D") + np.timedelta64(1, "D")
    return int(last.astype("datetime64[s]").astype(np.int64))


def realized_return(series: PriceSeries, output_scale: int) -> int:
    """The log return of the last close over the one before, in percent (`models.features.
    log_returns`, the unit of the VaR the model forecasts), as RiskOracle's fixed point."""
    if len(series) < 2:
        raise ProposalError(f"{series.name}: a realised return needs two bars, got {len(series)}")
    value = round(float(log_returns(series.close[-2:])[-1]) * 2**output_scale)
    if not -(2**31) <= value < 2**31:
        raise ProposalError(f"{series.name}: realised return {value} does not fit int32")
    return value


def slot_outcome(series: PriceSeries, output_scale: int) -> tuple[int, int]:
    """(previous close time, realised return) of a slot: what RiskOracle scores its last VaR
    against. Attesters recompute both from the bars they checked."""
    return close_time(series, back=1), realized_return(series, output_scale)


# ---------------------------------------------------------------------------- observations


def observation_values_hash(observed: Sequence[tuple[str, PriceSeries]]) -> bytes:
    """keccak256 of the one canonical byte encoding of observed bars, feed by feed in order:
    feed id (32 bytes), bar count (uint32), a field mask (1 byte: bit i set when BAR_FIELDS[i]
    is present; close always is), the days since 1970-01-01 (int64 each), then each present
    field's values as IEEE-754 float64, all big-endian. Volume is not observed (no feature
    uses it)."""
    parts: list[bytes] = []
    for name, series in observed:
        fields = [f for f in BAR_FIELDS if getattr(series, f) is not None]
        mask = sum(1 << BAR_FIELDS.index(f) for f in fields)
        days = np.asarray(series.dates, dtype="datetime64[D]").astype(np.int64)
        parts += [
            feed_id(name),
            struct.pack(">IB", len(series), mask),
            days.astype(">i8").tobytes(),
        ]
        parts += [np.asarray(getattr(series, f), dtype=">f8").tobytes() for f in fields]
    return keccak(b"".join(parts))


def observation_typed_data(
    chain_id: int, oracle: str, attester: str, observed: Sequence[tuple[str, PriceSeries]]
) -> dict[str, Any]:
    """The EIP-712 message an attester signs over its observation: bound to the chain, the
    oracle, the attester and the feeds, and through `valuesHash` to every observed value."""
    return {
        "types": {
            "EIP712Domain": EIP712_DOMAIN_TYPES,
            "Observation": [
                {"name": "attester", "type": "address"},
                {"name": "feedIds", "type": "bytes32[]"},
                {"name": "valuesHash", "type": "bytes32"},
            ],
        },
        "primaryType": "Observation",
        "domain": {
            "name": OBSERVATION_DOMAIN,
            "version": OBSERVATION_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(oracle),
        },
        "message": {
            "attester": to_checksum_address(attester),
            "feedIds": [feed_id(name) for name, _ in observed],
            "valuesHash": observation_values_hash(observed),
        },
    }


@dataclass(frozen=True, eq=False)
class SignedObservation:
    """One attester's signed observation: per feed its recent bars (OHLC, no volume)."""

    signer: str
    observed: tuple[tuple[str, PriceSeries], ...]
    signature: bytes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SignedObservation):
            return NotImplemented
        return (self.signer, self.feeds, self.signature) == (
            other.signer,
            other.feeds,
            other.signature,
        ) and all(
            same_bars(a, b) for (_, a), (_, b) in zip(self.observed, other.observed, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def feeds(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.observed)

    def series(self, name: str) -> PriceSeries | None:
        return next((s for n, s in self.observed if n == name), None)

    def recover(self, chain_id: int, oracle: str) -> str:
        """The address that signed this observation (raises on a malformed signature)."""
        data = observation_typed_data(chain_id, oracle, self.signer, self.observed)
        return Account.recover_message(
            encode_typed_data(full_message=data), signature=self.signature
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "signer": self.signer,
            "observations": [{"feed": n, **_ohlc_json(s)} for n, s in self.observed],
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> SignedObservation:
        """The inverse of `to_json`; ProposalError names what is wrong."""
        if not isinstance(data, dict) or not isinstance(data.get("observations"), list):
            raise ProposalError("an observation is {signer, observations: [...], signature}")
        signer, signature = data.get("signer"), data.get("signature")
        if not isinstance(signer, str) or not is_address(signer):
            raise ProposalError("observation.signer must be an address")
        try:
            sig = bytes.fromhex(str(signature).removeprefix("0x"))
        except ValueError:
            raise ProposalError("observation.signature is not hex") from None
        if len(sig) != 65:
            raise ProposalError(f"observation.signature is {len(sig)} bytes, not 65")
        observed: list[tuple[str, PriceSeries]] = []
        for i, item in enumerate(data["observations"]):
            if not isinstance(item, dict) or not isinstance(item.get("feed"), str):
                raise ProposalError(f"observation.observations[{i}] needs a feed name")
            name = item["feed"]
            if name in (n for n, _ in observed):
                raise ProposalError(f"observation lists feed {name!r} twice")
            observed.append((name, bars_from_json(name, {**item, "volume": None})))
        return cls(to_checksum_address(signer), tuple(observed), sig)


def sign_observation(
    key: str, chain_id: int, oracle: str, observed: Sequence[tuple[str, PriceSeries]]
) -> SignedObservation:
    """`observed` (feed name and its recent bars) signed with `key` (volume dropped)."""
    bars = tuple((n, replace(s, volume=None)) for n, s in observed)
    signer = Account.from_key(key).address
    data = observation_typed_data(chain_id, oracle, signer, bars)
    signature = Account.sign_message(encode_typed_data(full_message=data), key).signature
    return SignedObservation(signer, bars, bytes(signature))


def same_bars(a: PriceSeries, b: PriceSeries) -> bool:
    """Exactly the same days and OHLC values (volume ignored)."""
    if len(a) != len(b) or not np.array_equal(a.dates, b.dates):
        return False
    for f in BAR_FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if (x is None) != (y is None) or (x is not None and not np.array_equal(x, y)):
            return False
    return True


def _lower_median(stack: np.ndarray) -> np.ndarray:
    """Per column, the lower median of the rows: the ((m - 1) // 2)-th smallest of m. Always one
    of the inputs, and between two honest ones whenever at most (m - 1) // 2 rows lie."""
    return np.sort(stack, axis=0)[(stack.shape[0] - 1) // 2]


def canonical_slot(name: str, observed: Sequence[PriceSeries]) -> tuple[PriceSeries, np.ndarray]:
    """THE rule: the bars and the feature row of feed `name` for its observations.

    Bars: per day and field the lower median of the observed values (every observation must
    hold the same days and fields). Features: per feature the lower median of
    `latest_features` of each observation. NotCanonicalError when the rule does not apply."""
    if not observed:
        raise NotCanonicalError(f"{name}: no observation")
    first = observed[0]
    for s in observed[1:]:
        if len(s) != len(first) or not np.array_equal(s.dates, first.dates):
            raise NotCanonicalError(
                f"{name}: observations disagree on the days ({_span(first)} vs {_span(s)})"
            )
        if any((getattr(s, f) is None) != (getattr(first, f) is None) for f in BAR_FIELDS):
            raise NotCanonicalError(f"{name}: observations disagree on which fields they hold")
    columns = {
        f: None if getattr(first, f) is None
        else _lower_median(np.stack([getattr(s, f) for s in observed]))
        for f in BAR_FIELDS
    }  # fmt: skip
    try:
        bars = PriceSeries(name=name, dates=first.dates, volume=None, **columns)  # type: ignore[arg-type]
        features = _lower_median(np.stack([latest_features(s) for s in observed]))
    except (DataValidationError, ValueError) as exc:
        raise NotCanonicalError(f"{name}: {exc}") from None
    return bars, features


def _span(s: PriceSeries) -> str:
    if not len(s):
        return "no bars"
    return f"{len(s)} bars {np.datetime64(s.dates[0], 'D')}..{np.datetime64(s.dates[-1], 'D')}"


def _ohlc_json(series: PriceSeries) -> dict[str, Any]:
    out = bars_to_json(series)
    del out["volume"]
    return out


# ---------------------------------------------------------------------------- the proposal


@dataclass(frozen=True)
class Proposal:
    """One report as the transmitter proposes it: the signed fields plus the bars behind them.

    `slots` names the feed of each slot (None: empty slot); `bars[k]` are slot k's bars (None
    for an empty slot); `observations` the signed observations they are the canonical rule of
    (`canonical_slot`; with none, the bars are the transmitter's own: attesters refuse it)."""

    chain_id: int
    oracle: str
    report: SlotReport
    commitment: int
    slots: tuple[str | None, ...]
    bars: tuple[dict[str, Any] | None, ...]
    observations: tuple[SignedObservation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        _, _, _, _, previous, realized = self.report.as_tuple()
        return {
            "chain_id": self.chain_id,
            "oracle": self.oracle,
            "config_version": self.report.config_version,
            "valid_until": self.report.valid_until,
            "commitment": str(self.commitment),
            "slots": [
                None
                if name is None
                else {
                    "feed": name,
                    "observed_at": t,
                    "previous_observed_at": p,
                    "realized_return": r,
                    "bars": bars,
                }
                for name, t, p, r, bars in zip(
                    self.slots, self.report.observed_at, previous, realized, self.bars, strict=True
                )
            ],
            "observations": [o.to_json() for o in self.observations],
        }

    @classmethod
    def from_json(cls, data: Any) -> Proposal:
        if not isinstance(data, dict):
            raise ProposalError("a proposal is a JSON object")
        try:
            chain_id = _uint(data["chain_id"], "chain_id", 2**256)
            oracle = to_checksum_address(str(data["oracle"]))
            version = _uint(data["config_version"], "config_version", 2**32)
            valid_until = _uint(data["valid_until"], "valid_until", 2**32)
            commitment = _uint(int(str(data["commitment"])), "commitment", FIELD_MODULUS)
            raw_slots = data["slots"]
        except KeyError as exc:
            raise ProposalError(f"proposal misses {exc.args[0]!r}") from None
        except ValueError as exc:
            raise ProposalError(f"proposal: {exc}") from None
        if not isinstance(raw_slots, list) or not raw_slots:
            raise ProposalError("proposal.slots must be a non-empty list")
        names: list[str | None] = []
        times: list[int] = []
        previous: list[int] = []
        realized: list[int] = []
        bars: list[dict[str, Any] | None] = []
        for k, slot in enumerate(raw_slots):
            if slot is None:
                names.append(None), times.append(0), bars.append(None)
                previous.append(0), realized.append(0)
                continue
            if not isinstance(slot, dict) or not isinstance(slot.get("feed"), str):
                raise ProposalError(
                    f"slots[{k}] must be null or "
                    "{feed, observed_at, previous_observed_at, realized_return, bars}"
                )
            names.append(slot["feed"])
            times.append(_uint(slot.get("observed_at"), f"slots[{k}].observed_at", 2**32))
            previous.append(
                _uint(slot.get("previous_observed_at"), f"slots[{k}].previous_observed_at", 2**32)
            )
            r = slot.get("realized_return")
            realized.append(_uint(r, f"slots[{k}].realized_return", 2**31, low=-(2**31)))
            bars.append(slot.get("bars"))
        raw_observations = data.get("observations", [])
        if not isinstance(raw_observations, list):
            raise ProposalError("proposal.observations must be a list")
        observations = []
        for i, raw in enumerate(raw_observations):
            try:
                observations.append(SignedObservation.from_json(raw))
            except ProposalError as exc:
                raise ProposalError(f"observations[{i}]: {exc}") from None
        report = SlotReport(
            version,
            tuple(EMPTY_SLOT if n is None else feed_id(n) for n in names),
            tuple(times),
            valid_until,
            tuple(previous),
            tuple(realized),
        )
        return cls(
            chain_id, oracle, report, commitment, tuple(names), tuple(bars), tuple(observations)
        )


def _uint(value: Any, what: str, bound: int, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value < bound:
        raise ProposalError(f"{what} must be an integer in [{low}, {bound})")
    return value


def feature_matrix(series: Sequence[PriceSeries | None]) -> np.ndarray:
    """The circuit's input: one row of `latest_features` per slot, zeros for an empty slot."""
    rows = np.zeros((len(series), NUM_FEATURES), dtype=np.float64)
    for k, s in enumerate(series):
        if s is not None:
            rows[k] = latest_features(s)
    return rows


def input_commitment(features: np.ndarray, input_scale: int) -> int:
    """The proof's input instance for `features` (EZKL's Poseidon over the quantised rows)."""
    return poseidon_fixed_point(features, input_scale)


def build_proposal(
    chain_id: int,
    oracle: str,
    config_version: int,
    input_scale: int,
    slots: Sequence[tuple[str, PriceSeries] | None],
    output_scale: int,
    valid_until: int | None = None,
) -> tuple[Proposal, np.ndarray]:
    """The proposal for `slots` (feed name and its recent bars, or None) and the feature matrix
    the proof must be made on; signatures over it expire at `valid_until` (default: now +
    SIGNATURE_TTL)."""
    series = [None if s is None else s[1] for s in slots]
    return _proposal(
        chain_id, oracle, config_version, input_scale, output_scale,
        tuple(None if s is None else s[0] for s in slots), series, feature_matrix(series),
        (), valid_until,
    )  # fmt: skip


def canonical_proposal(
    chain_id: int,
    oracle: str,
    config_version: int,
    input_scale: int,
    feeds: Sequence[str | None],
    observations: Sequence[SignedObservation],
    output_scale: int,
    valid_until: int | None = None,
) -> tuple[Proposal, np.ndarray]:
    """The proposal for `feeds` (one per slot, None: empty) built by `canonical_slot` from
    `observations` (each must hold every feed of the report, on the same days), carrying them;
    and the feature matrix the proof must be made on. NotCanonicalError when the rule does not
    apply."""
    series: list[PriceSeries | None] = []
    features = np.zeros((len(feeds), NUM_FEATURES), dtype=np.float64)
    for k, name in enumerate(feeds):
        if name is None:
            series.append(None)
            continue
        observed = [o.series(name) for o in observations]
        missing = [o.signer for o, s in zip(observations, observed, strict=True) if s is None]
        if missing:
            raise NotCanonicalError(f"{name}: not observed by {', '.join(missing)}")
        bars, features[k] = canonical_slot(name, observed)  # type: ignore[arg-type]
        series.append(bars)
    return _proposal(
        chain_id, oracle, config_version, input_scale, output_scale, tuple(feeds), series,
        features, tuple(observations), valid_until,
    )  # fmt: skip


def _proposal(
    chain_id: int,
    oracle: str,
    config_version: int,
    input_scale: int,
    output_scale: int,
    names: tuple[str | None, ...],
    series: Sequence[PriceSeries | None],
    features: np.ndarray,
    observations: tuple[SignedObservation, ...],
    valid_until: int | None,
) -> tuple[Proposal, np.ndarray]:
    outcomes = [(0, 0) if s is None else slot_outcome(s, output_scale) for s in series]
    report = SlotReport(
        config_version,
        tuple(EMPTY_SLOT if n is None else feed_id(n) for n in names),
        tuple(0 if s is None else close_time(s) for s in series),
        int(time.time()) + SIGNATURE_TTL if valid_until is None else valid_until,
        tuple(o[0] for o in outcomes),
        tuple(o[1] for o in outcomes),
    )
    proposal = Proposal(
        chain_id,
        to_checksum_address(oracle),
        report,
        input_commitment(features, input_scale),
        names,
        tuple(None if s is None else bars_to_json(s) for s in series),
        observations,
    )
    return proposal, features
