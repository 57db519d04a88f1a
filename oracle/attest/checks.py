"""An attester's observations, and its checks of a proposal against them and its own data.

Phase 1 (`Checker.observe`): the attester reports its own recent bars of the requested feeds;
the server signs them (`report.sign_observation`). Phase 2 (`Checker.check`): a proposal is
signed only if it carries at least `quorum` (2f+1) observations with valid signatures from
distinct members of the attester set, one of them this attester's own and equal to its data
now, and its bars and commitment are exactly the canonical rule (`report.canonical_slot`)
applied to them; then, as a second line of defence, every slot's bars are checked against the
attester's own within `tolerance_bps`, for the latest day, plausibility and outcome as before.
Otherwise every reason is returned as a `Refusal` naming the feed and, for data, the bar and by
how much.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.data import PriceSeries
from models.features import HISTORY_BARS, NUM_FEATURES
from models.plausibility import implausible_move
from oracle.attest.report import (
    BAR_FIELDS,
    Proposal,
    ProposalError,
    SignedObservation,
    bars_from_json,
    canonical_slot,
    close_time,
    input_commitment,
    same_bars,
    slot_outcome,
)
from oracle.node.config import FeedConfig
from oracle.node.errors import SourceError
from oracle.node.sources import MarketSource

log = logging.getLogger("proofcast.attest")

REFUSAL_CODES = (
    "BadProposal",  # not well formed
    "WrongDomain",  # chain id or oracle address is not the one this attester serves
    "WrongConfigVersion",  # not the attester configuration the chain has now
    "BadExpiry",  # validUntil already past, or further ahead than this attester signs for
    "SlotCount",  # not K slots
    "UnknownFeed",  # a feed this attester does not attest
    "DuplicateFeed",  # the same feed in two slots
    "OwnDataUnavailable",  # the attester cannot read its own data for the feed
    "BadBars",  # bars malformed or too few
    "StaleObservation",  # the last proposed bar is older than the attester's latest
    "FutureObservation",  # the last proposed bar is newer than the attester's latest (or now)
    "BarMismatch",  # a bar differs from the attester's own by more than the tolerance
    "ObservedAtMismatch",  # observedAt is not the close time of the last bar
    "OutcomeMismatch",  # previous close time or realised return is not that of the bars
    "ImplausibleMove",  # the last bar moved implausibly far (models.plausibility)
    "CommitmentMismatch",  # the commitment is not that of the canonical features
    "AttesterSetUnavailable",  # the attester set (config or chain) cannot be read
    "ObservationsMissing",  # fewer signed observations than the quorum (2f+1)
    "TooManyObservations",  # more observations than `max_observations`
    "BadObservationSignature",  # an observation's signature does not recover to its signer
    "UnknownObserver",  # an observation signed by a key outside the attester set
    "DuplicateObserver",  # two observations by the same attester
    "OwnObservationMissing",  # none of the observations is this attester's
    "OwnObservationMismatch",  # this attester's observation is not its data now
    "NotCanonical",  # the proposed bars are not the canonical rule of the observations
)


@dataclass(frozen=True)
class Refusal:
    """Why a proposal was not signed: a code from REFUSAL_CODES, the feed (if any), details."""

    code: str
    feed: str | None
    detail: str

    def __str__(self) -> str:
        return f"{self.code}({self.feed or '-'}): {self.detail}"

    def to_json(self) -> dict[str, str | None]:
        return {"code": self.code, "feed": self.feed, "detail": self.detail}


@dataclass(frozen=True)
class CheckPolicy:
    """What an attester accepts."""

    chain_id: int
    oracle: str
    slots: int  # K: feeds per report (the circuit's batch)
    input_scale: int  # the circuit's input scale (fractional bits of the committed features)
    tolerance_bps: float = 10.0  # max relative difference of any proposed OHLC value
    max_move_sigmas: float = 12.0  # models.plausibility limit; 0 turns it off
    # bars a proposal carries per feed: all the features use (fewer for a younger feed)
    bars: int = HISTORY_BARS
    output_scale: int = 13  # the circuit's output scale (fixed point of the realised return)
    max_signature_ttl: int = 600  # sign only reports that expire within this many seconds
    # The attester set and threshold t = f + 1, when not read from the chain (rpc_url).
    attesters: tuple[str, ...] = ()
    threshold: int = 0
    min_observations: int = 0  # observations a proposal must carry; 0: 2t - 1 (= 2f + 1)
    max_observations: int = 8  # more are refused before any signature is checked

    def quorum(self, threshold: int) -> int:
        """Observations a proposal must carry when the chain's threshold is `threshold`."""
        return self.min_observations or quorum(threshold)


def quorum(threshold: int) -> int:
    """2f + 1 observations for a threshold of t = f + 1 signatures: with at most f of them
    lying, every lower median is between two honest values."""
    return 2 * threshold - 1


class Checker:
    """Checks proposals for the feeds in `feeds` against `source` (the attester's own data)."""

    def __init__(
        self,
        policy: CheckPolicy,
        feeds: tuple[FeedConfig, ...],
        source: MarketSource,
        clock: Callable[[], float] = time.time,
        chain_config_version: Callable[[], int] | None = None,
        chain_attester_set: Callable[[], tuple[tuple[str, ...], int]] | None = None,
        address: str | None = None,
    ) -> None:
        """`chain_config_version` reads the oracle's current `configVersion` (None: no chain
        access, the version is not checked; the contract still refuses a stale one);
        `chain_attester_set` reads its attesters and threshold (None: the policy's).
        `address`: this attester's (its own observation must be in a proposal; `create_app`
        sets it from the key)."""
        self.policy = policy
        self.feeds = {f.name: f for f in feeds}
        self.source = source
        self.clock = clock
        self.chain_config_version = chain_config_version
        self.chain_attester_set = chain_attester_set
        self.address = address

    # ------------------------------------------------------------------ phase 1: observe

    def observe(
        self, names: list[str], bars: int
    ) -> tuple[list[tuple[str, PriceSeries]], list[Refusal]]:
        """This attester's bars of each feed in `names` -- every bar the features use (the last
        `policy.bars`, or all of a younger feed: fixed by its data, so a transmitter cannot ask
        for a shorter history) -- and why some are missing (UnknownFeed, OwnDataUnavailable,
        BadBars). `bars` is the most the node reads."""
        if bars > self.policy.bars:
            return [], [
                Refusal("BadBars", None, f"{bars} bars asked, I observe {self.policy.bars}")
            ]
        observed: list[tuple[str, PriceSeries]] = []
        refusals: list[Refusal] = []
        for name in dict.fromkeys(names):  # each feed once, in order
            feed = self.feeds.get(name)
            if feed is None:
                known = ", ".join(sorted(self.feeds))
                refusals.append(Refusal("UnknownFeed", name, f"not attested here ({known})"))
                continue
            try:
                own = self.source.observe(feed).bars
            except SourceError as exc:
                refusals.append(Refusal("OwnDataUnavailable", name, str(exc)))
                continue
            held = 0 if own is None else len(own)
            n = min(self.policy.bars, held)
            if n == 0 or n > bars:
                refusals.append(
                    Refusal("OwnDataUnavailable", name, f"I hold {held} bars, {bars} asked")
                )
                continue
            observed.append((name, own.slice(held - n)))
        return observed, refusals

    # ------------------------------------------------------------------ phase 2: check

    def attester_set(self) -> tuple[set[str], int] | Refusal:
        """The lower-cased attester addresses and the threshold: from the chain when it can be
        read, else the policy's."""
        if self.chain_attester_set is not None:
            try:
                members, threshold = self.chain_attester_set()
            except Exception as exc:  # the chain is unreachable: sign nothing
                return Refusal("AttesterSetUnavailable", None, f"cannot read attesters: {exc}")
        else:
            members, threshold = self.policy.attesters, self.policy.threshold
        if not members or threshold <= 0:
            return Refusal(
                "AttesterSetUnavailable",
                None,
                "no attester set: configure attester.attesters and threshold, or rpc_url",
            )
        return {m.lower() for m in members}, threshold

    def check_observations(self, proposal: Proposal) -> list[Refusal]:
        """The proposal's observations: enough, each validly signed by a distinct member of the
        attester set, this attester's own among them and equal to its data now."""
        members = self.attester_set()
        if isinstance(members, Refusal):
            return [members]
        allowed, threshold = members
        need = self.policy.quorum(threshold)
        observations = proposal.observations
        if len(observations) > self.policy.max_observations:
            return [
                Refusal(
                    "TooManyObservations",
                    None,
                    f"{len(observations)} observations, at most {self.policy.max_observations}",
                )
            ]
        refusals: list[Refusal] = []
        seen: set[str] = set()
        for i, o in enumerate(observations):
            try:
                recovered = o.recover(proposal.chain_id, proposal.oracle)
            except Exception as exc:  # eth_keys raises several types on malformed signatures
                recovered = f"nobody ({type(exc).__name__})"
            if recovered.lower() != o.signer.lower():
                refusals.append(
                    Refusal(
                        "BadObservationSignature",
                        None,
                        f"observations[{i}] claims {o.signer}, its signature recovers to "
                        f"{recovered}",
                    )
                )
            elif o.signer.lower() not in allowed:
                refusals.append(
                    Refusal(
                        "UnknownObserver", None, f"observations[{i}] by {o.signer}: not an attester"
                    )
                )
            elif o.signer.lower() in seen:
                refusals.append(
                    Refusal("DuplicateObserver", None, f"observations[{i}]: {o.signer} again")
                )
            seen.add(o.signer.lower())
        if refusals:
            return refusals
        if len(observations) < need:
            return [
                Refusal(
                    "ObservationsMissing",
                    None,
                    f"{len(observations)} signed observations, need {need} (2f+1 for "
                    f"threshold {threshold})",
                )
            ]
        mine = [
            o for o in observations if self.address and o.signer.lower() == self.address.lower()
        ]
        if not mine:
            return [
                Refusal(
                    "OwnObservationMissing",
                    None,
                    f"no observation by this attester ({self.address}) among {len(observations)}",
                )
            ]
        return self._check_own(mine[0], proposal)

    def _check_own(self, mine: SignedObservation, proposal: Proposal) -> list[Refusal]:
        """This attester's observation holds each proposed feed exactly as its data has it now."""
        refusals = []
        for name in proposal.slots:
            if name is None or name not in self.feeds:
                continue  # UnknownFeed is named by the slot check
            observed = mine.series(name)
            if observed is None:
                refusals.append(Refusal("OwnObservationMismatch", name, "not in my observation"))
                continue
            try:
                own = self.source.observe(self.feeds[name]).bars
            except SourceError as exc:
                refusals.append(Refusal("OwnDataUnavailable", name, str(exc)))
                continue
            n = len(observed)
            if own is None or len(own) < n or not same_bars(observed, own.slice(len(own) - n)):
                refusals.append(
                    Refusal(
                        "OwnObservationMismatch",
                        name,
                        f"my observation ({n} bars to {_day(observed.dates[-1])}) is not my data "
                        "now (a new bar or a changed value since)",
                    )
                )
        return refusals

    def check(self, proposal: Proposal) -> list[Refusal]:
        """Every reason to refuse `proposal`; empty when it may be signed."""
        p = self.policy
        if proposal.chain_id != p.chain_id or proposal.oracle.lower() != p.oracle.lower():
            return [
                Refusal(
                    "WrongDomain",
                    None,
                    f"proposal is for oracle {proposal.oracle} on chain {proposal.chain_id}; "
                    f"this attester signs for {p.oracle} on chain {p.chain_id}",
                )
            ]
        if len(proposal.slots) != p.slots:
            return [
                Refusal(
                    "SlotCount", None, f"{len(proposal.slots)} slots, the circuit has {p.slots}"
                )
            ]
        refusal = self._check_expiry(proposal.report.valid_until) or self._check_version(
            proposal.report.config_version
        )
        if refusal is not None:
            return [refusal]
        refusals = self.check_observations(proposal)
        if refusals:
            return refusals
        series: list[PriceSeries | None] = []
        features = np.zeros((p.slots, NUM_FEATURES), dtype=np.float64)
        seen: set[str] = set()
        for k, name in enumerate(proposal.slots):
            if name is None:
                series.append(None)
                continue
            if name in seen:
                refusals.append(Refusal("DuplicateFeed", name, f"feed in two slots (slot {k})"))
                series.append(None)
                continue
            seen.add(name)
            checked, slot_refusals = self._check_slot(
                name, proposal.report.observed_at[k], proposal.bars[k]
            )
            if checked is not None and not slot_refusals:
                slot_refusals = self._check_canonical(name, checked, proposal, features, k)
            if checked is not None and not slot_refusals:
                slot_refusals = self._check_outcome(name, checked, proposal, k)
            refusals += slot_refusals
            series.append(checked)
        if refusals:
            return refusals
        commitment = input_commitment(features, p.input_scale)
        if commitment != proposal.commitment:
            return [
                Refusal(
                    "CommitmentMismatch",
                    None,
                    f"the canonical features commit to {commitment}, "
                    f"the proposal says {proposal.commitment}",
                )
            ]
        return []

    def _check_canonical(
        self, name: str, proposed: PriceSeries, proposal: Proposal, features: np.ndarray, k: int
    ) -> list[Refusal]:
        """The slot's bars are the canonical rule of the observations; its feature row (written
        to `features[k]`) is the rule's."""
        observed = [o.series(name) for o in proposal.observations]
        missing = [o.signer for o, s in zip(proposal.observations, observed, strict=True) if not s]
        if missing:
            return [Refusal("NotCanonical", name, f"not observed by {', '.join(missing)}")]
        try:
            bars, features[k] = canonical_slot(name, observed)  # type: ignore[arg-type]
        except ProposalError as exc:
            return [Refusal("NotCanonical", name, str(exc))]
        if same_bars(bars, proposed):
            return []
        return [Refusal("NotCanonical", name, _first_difference(proposed, bars))]

    def _check_expiry(self, valid_until: int) -> Refusal | None:
        now = self.clock()
        if not now < valid_until <= now + self.policy.max_signature_ttl:
            return Refusal(
                "BadExpiry",
                None,
                f"validUntil {valid_until} is not within {self.policy.max_signature_ttl} s "
                f"after now ({now:.0f})",
            )
        return None

    def _check_version(self, version: int) -> Refusal | None:
        if self.chain_config_version is None:
            return None
        try:
            current = self.chain_config_version()
        except Exception as exc:  # the chain is unreachable: sign nothing
            return Refusal("WrongConfigVersion", None, f"cannot read configVersion: {exc}")
        if version != current:
            return Refusal(
                "WrongConfigVersion",
                None,
                f"configVersion {version}, the chain is on {current}",
            )
        return None

    def _check_outcome(
        self, name: str, bars: PriceSeries, proposal: Proposal, k: int
    ) -> list[Refusal]:
        """The slot's previous close time and realised return are those of the checked bars."""
        expected = slot_outcome(bars, self.policy.output_scale)
        _, _, _, _, previous, realized = proposal.report.as_tuple()
        if (previous[k], realized[k]) != expected:
            return [
                Refusal(
                    "OutcomeMismatch",
                    name,
                    f"previous close {previous[k]} and realised return {realized[k]}; the bars "
                    f"give {expected[0]} and {expected[1]} (output scale "
                    f"{self.policy.output_scale})",
                )
            ]
        return []

    def _check_slot(
        self, name: str, observed_at: int, raw_bars: object
    ) -> tuple[PriceSeries | None, list[Refusal]]:
        feed = self.feeds.get(name)
        if feed is None:
            known = ", ".join(sorted(self.feeds))
            return None, [Refusal("UnknownFeed", name, f"not attested here (attested: {known})")]
        try:
            proposed = bars_from_json(name, raw_bars)
        except ProposalError as exc:
            return None, [Refusal("BadBars", name, str(exc))]
        try:
            own = self.source.observe(feed).bars
        except SourceError as exc:
            return None, [Refusal("OwnDataUnavailable", name, str(exc))]
        refusal = self._same_days(name, proposed, own)
        if refusal is not None:
            return None, [refusal]
        # Every bar the features use: the policy's count, or all we hold of a younger feed.
        wanted = min(self.policy.bars, len(own))
        if len(proposed) != wanted:
            return None, [
                Refusal(
                    "BadBars",
                    name,
                    f"{len(proposed)} bars, expected {wanted} (the last {self.policy.bars}, "
                    f"or all {len(own)} I hold)",
                )
            ]
        refusal = self._same_values(name, proposed, own)
        if refusal is not None:
            return None, [refusal]
        expected = close_time(proposed)
        if observed_at != expected:
            return None, [
                Refusal(
                    "ObservedAtMismatch",
                    name,
                    f"observedAt {observed_at}, but the last bar "
                    f"{_day(proposed.dates[-1])} closed at {expected}",
                )
            ]
        if expected > self.clock():
            return None, [
                Refusal(
                    "FutureObservation",
                    name,
                    f"bar {_day(proposed.dates[-1])} closes at {expected}, after now "
                    f"({self.clock():.0f})",
                )
            ]
        move = implausible_move(proposed, self.policy.max_move_sigmas)
        if move is not None:
            return None, [Refusal("ImplausibleMove", name, str(move))]
        return proposed, []

    def _same_days(self, name: str, proposed: PriceSeries, own: PriceSeries) -> Refusal | None:
        """The proposed bars are the attester's latest bars: same last day, no day skipped."""
        last, mine = proposed.dates[-1], own.dates[-1]
        if last < mine:
            return Refusal(
                "StaleObservation",
                name,
                f"last proposed bar is {_day(last)}, my latest is {_day(mine)}",
            )
        if last > mine:
            return Refusal(
                "FutureObservation",
                name,
                f"last proposed bar is {_day(last)}, my latest is {_day(mine)}: I have not seen it",
            )
        n = len(proposed)
        if len(own) < n:
            return Refusal(
                "OwnDataUnavailable",
                name,
                f"I hold {len(own)} recent bars, the proposal {n}",
            )
        mine_days = own.dates[-n:]
        differ = np.nonzero(mine_days != proposed.dates)[0]
        if differ.size:
            i = int(differ[-1])
            theirs, ours = _day(proposed.dates[i]), _day(mine_days[i])
            what = f"day {ours} is missing" if theirs < ours else f"day {theirs} is not in my data"
            return Refusal(
                "BarMismatch",
                name,
                f"bar {i} is dated {theirs}, mine is {ours}: {what} (a day skipped or inserted)",
            )
        return None

    def _same_values(self, name: str, proposed: PriceSeries, own: PriceSeries) -> Refusal | None:
        """Every proposed OHLC value within `tolerance_bps` of the attester's (worst named)."""
        n = len(proposed)
        worst: tuple[float, int, str, float, float] | None = None
        for field in BAR_FIELDS:
            p, o = getattr(proposed, field), getattr(own, field)
            if o is None:
                continue
            o = o[-n:]
            if p is None:
                return Refusal("BadBars", name, f"bars.{field} missing (my data has it)")
            bps = np.abs(p - o) / np.abs(o) * 1e4
            i = int(np.argmax(bps))
            if bps[i] > self.policy.tolerance_bps and (worst is None or bps[i] > worst[0]):
                worst = (float(bps[i]), i, field, float(p[i]), float(o[i]))
        if worst is None:
            return None
        bps, i, field, value, mine = worst
        return Refusal(
            "BarMismatch",
            name,
            f"bar {_day(proposed.dates[i])} {field} {value:g} differs from mine {mine:g} by "
            f"{bps:.1f} bps (tolerance {self.policy.tolerance_bps:g} bps)",
        )


def _first_difference(proposed: PriceSeries, rule: PriceSeries) -> str:
    """Where the proposed bars first differ from the rule's (for the refusal)."""
    if len(proposed) != len(rule) or not np.array_equal(proposed.dates, rule.dates):
        return f"the proposed days are not the observed days (last {_day(rule.dates[-1])})"
    for i in range(len(rule)):
        for f in BAR_FIELDS:
            x, y = getattr(proposed, f), getattr(rule, f)
            if x is None or y is None:
                if (x is None) != (y is None):
                    return f"bars.{f} {'missing' if x is None else 'not observed'}"
                continue
            if x[i] != y[i]:
                return (
                    f"bar {_day(rule.dates[i])} {f} {x[i]!r}, the median of the observations is "
                    f"{y[i]!r} ({abs(x[i] / y[i] - 1) * 1e4:.2f} bps off)"
                )
    return "the bars differ"


def _day(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D"))
