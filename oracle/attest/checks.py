"""An attester's checks of a proposal against its own market data.

A proposal is signed only if every slot passes; otherwise every reason is returned as a
`Refusal` naming the feed and, for data, the bar and by how much. The attester recomputes the
features from the proposed bars with `models.features.latest_features` (after checking each
bar against its own within `tolerance_bps`) and the commitment exactly as the circuit does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.data import PriceSeries
from models.features import HISTORY_BARS
from models.plausibility import implausible_move
from oracle.attest.report import (
    BAR_FIELDS,
    Proposal,
    ProposalError,
    bars_from_json,
    close_time,
    feature_matrix,
    input_commitment,
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
    "CommitmentMismatch",  # the commitment is not that of the proposed bars' features
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


class Checker:
    """Checks proposals for the feeds in `feeds` against `source` (the attester's own data)."""

    def __init__(
        self,
        policy: CheckPolicy,
        feeds: tuple[FeedConfig, ...],
        source: MarketSource,
        clock: Callable[[], float] = time.time,
        chain_config_version: Callable[[], int] | None = None,
    ) -> None:
        """`chain_config_version` reads the oracle's current `configVersion` (None: no chain
        access, the version is not checked; the contract still refuses a stale one)."""
        self.policy = policy
        self.feeds = {f.name: f for f in feeds}
        self.source = source
        self.clock = clock
        self.chain_config_version = chain_config_version

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
        refusals: list[Refusal] = []
        series: list[PriceSeries | None] = []
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
                slot_refusals = self._check_outcome(name, checked, proposal, k)
            refusals += slot_refusals
            series.append(checked)
        if refusals:
            return refusals
        commitment = input_commitment(feature_matrix(series), p.input_scale)
        if commitment != proposal.commitment:
            return [
                Refusal(
                    "CommitmentMismatch",
                    None,
                    f"the proposed bars' features commit to {commitment}, "
                    f"the proposal says {proposal.commitment}",
                )
            ]
        return []

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


def _day(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D"))
