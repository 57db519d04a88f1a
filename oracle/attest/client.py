"""The transmitting node's side, in two phases, each asking every attester in parallel:
`observe` collects signed observations (at least 2f+1 are needed: `select_observations` keeps
those that agree on each feed's days), `collect` proposes the canonical report built from them
and collects threshold signatures. A bad or slow attester is that attester's error in either
phase, never an exception: replies are size- and depth-capped before parsing.

Each reply is checked locally before it counts: the signature must recover to the address the
attester claims and that address must be in the oracle's attester set; a signer counts once.
The node proceeds as soon as it holds `threshold` valid signatures (f attesters may be down,
slow or refusing) and submits exactly that many (each extra one costs gas, none adds trust).
"""

from __future__ import annotations

import concurrent.futures as cf
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from oracle.attest.checks import Refusal
from oracle.attest.report import (
    Proposal,
    ProposalError,
    SignedObservation,
    recover_signer,
)
from oracle.attest.wire import (
    NAME_CHARS,
    TooLarge,
    WireError,
    loggable,
    observation_reply_limit,
    parse_json,
)

R = TypeVar("R")

MAX_REPLY_BYTES = 64 * 1024  # an honest reply is a few hundred bytes (K refusals: a few KiB)
MAX_REFUSALS = 64  # refusals kept from one reply
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")


@dataclass(frozen=True)
class AttesterReply:
    """One attester's answer (or why there is none)."""

    url: str
    signer: str | None = None
    signature: bytes | None = None
    refusals: tuple[Refusal, ...] = ()
    error: str | None = None

    @property
    def signed(self) -> bool:
        return self.signature is not None

    def describe(self) -> str:
        who = f"{self.url} ({self.signer})" if self.signer else self.url
        if self.signed:
            return f"{who}: signed"
        if self.refusals:
            return f"{who}: refused: " + "; ".join(str(r) for r in self.refusals)
        return f"{who}: {self.error or 'not awaited (threshold already reached)'}"


@dataclass(frozen=True)
class Outcome:
    """What a round of attestation produced."""

    threshold: int
    replies: tuple[AttesterReply, ...]

    @property
    def valid(self) -> tuple[AttesterReply, ...]:
        return tuple(r for r in self.replies if r.signed)

    @property
    def reached(self) -> bool:
        return self.threshold > 0 and len(self.valid) >= self.threshold

    @property
    def signatures(self) -> tuple[bytes, ...]:
        return tuple(r.signature for r in self.valid[: self.threshold] if r.signature)

    @property
    def signers(self) -> tuple[str, ...]:
        return tuple(r.signer for r in self.valid[: self.threshold] if r.signer)

    def describe(self) -> list[str]:
        return [r.describe() for r in self.replies]

    def refused_feeds(self) -> set[str]:
        """Feeds some attester refused by name (a data problem of that feed)."""
        return {f.feed for r in self.replies for f in r.refusals if f.feed is not None}


@dataclass(frozen=True)
class ObserveReply:
    """One attester's signed observation (or why there is none)."""

    url: str
    signer: str | None = None
    observation: SignedObservation | None = None
    refusals: tuple[Refusal, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.observation is not None

    def describe(self) -> str:
        who = f"{self.url} ({self.signer})" if self.signer else self.url
        notes = "; ".join(str(r) for r in self.refusals)
        if self.observation is not None:
            feeds = ", ".join(self.observation.feeds)
            return f"{who}: observed {feeds}" + (f" (refused: {notes})" if notes else "")
        if self.refusals:
            return f"{who}: refused to observe: {notes}"
        return f"{who}: {self.error or 'not awaited (enough observations already)'}"


@dataclass(frozen=True)
class Observations:
    """What the observation phase produced: one reply per attester."""

    quorum: int
    replies: tuple[ObserveReply, ...]

    @property
    def valid(self) -> tuple[SignedObservation, ...]:
        return tuple(r.observation for r in self.replies if r.observation is not None)

    def describe(self) -> list[str]:
        return [r.describe() for r in self.replies]


def select_observations(
    observations: Sequence[SignedObservation], feeds: Sequence[str], quorum: int
) -> tuple[list[SignedObservation], list[str]]:
    """The observations the report is built from, and the feeds left out.

    Per feed, the days most observations hold (a tie: the later last day) are the feed's days;
    the observations holding every feed on its days are used, if at least `quorum`. Otherwise
    the feed with the fewest such observations is left out and the rest tried again."""
    feeds = list(feeds)
    left_out: list[str] = []

    def days(o: SignedObservation, feed: str) -> tuple[int, ...] | None:
        s = o.series(feed)
        return None if s is None else tuple(s.dates.astype("datetime64[D]").astype(int).tolist())

    while feeds:
        majority: dict[str, tuple[int, ...] | None] = {}
        support: dict[str, int] = {}
        for feed in feeds:
            counts = Counter(d for o in observations if (d := days(o, feed)) is not None)
            best = max(counts.items(), key=lambda kv: (kv[1], kv[0][-1:]), default=(None, 0))
            majority[feed], support[feed] = best
        used = [o for o in observations if all(days(o, f) == majority[f] for f in feeds)]
        if len(used) >= quorum:
            return used, left_out
        weakest = min(feeds, key=lambda f: support[f])
        feeds.remove(weakest)
        left_out.append(weakest)
    return [], left_out


class AttesterClient:
    """Asks the attesters at `urls` (each `http://host:port`) for observations and signatures."""

    def __init__(self, urls: Sequence[str], timeout: float = 10.0, grace: float = 0.25) -> None:
        self.urls = tuple(u.rstrip("/") for u in urls)
        self.timeout = timeout
        self.grace = grace  # once enough are in, how long the others may still answer

    def _gather(
        self,
        ask: Callable[[str], R],
        vet: Callable[[R], R],
        counts: Callable[[R], str | None],
        enough: int,
        unanswered: Callable[[str, bool], R],
        failed: Callable[[str, str], R],
    ) -> list[R]:
        """`ask` every attester at once, `vet` each reply; return when every attester answered,
        `timeout` passed, or `grace` after `enough` replies counted (distinct `counts` keys)."""
        replies: dict[str, R] = {}
        counted: set[str] = set()
        deadline = time.monotonic() + self.timeout
        pool = cf.ThreadPoolExecutor(max_workers=max(1, len(self.urls)))
        try:
            asked = {pool.submit(ask, url): url for url in self.urls}
            pending = set(asked)
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                done, pending = cf.wait(pending, remaining, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    url = asked[future]
                    try:
                        reply = vet(future.result())
                    except Exception as exc:  # a bug must not cost the honest replies
                        reply = failed(url, f"{type(exc).__name__}: {loggable(exc)}")
                    replies[url] = reply
                    key = counts(reply)
                    if key is not None:
                        counted.add(key)
                if enough > 0 and len(counted) >= enough:
                    deadline = min(deadline, time.monotonic() + self.grace)
            reached = enough > 0 and len(counted) >= enough
            for url in self.urls:
                if url not in replies:
                    replies[url] = unanswered(url, reached)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return [replies[u] for u in self.urls]

    # ------------------------------------------------------------------ phase 1: observe

    def observe(
        self,
        chain_id: int,
        oracle: str,
        feeds: Sequence[str],
        bars: int,
        quorum: int,
        attesters: Sequence[str],
    ) -> Observations:
        """Ask every attester for its signed observation of `feeds` (`bars` bars each); return
        when all answered, `timeout` passed, or `grace` after `quorum` valid ones are in. An
        observation counts only if its signature recovers to an attester of the set, once per
        attester, and it holds only requested feeds with `bars` bars each."""
        allowed = {a.lower() for a in attesters}
        body = {"chain_id": chain_id, "oracle": oracle, "feeds": list(feeds), "bars": bars}
        limit = observation_reply_limit(len(feeds), bars)
        seen: set[str] = set()

        def vet(reply: ObserveReply) -> ObserveReply:
            vetted = self._vet_observation(reply, chain_id, oracle, set(feeds), bars, allowed)
            if vetted.observation is not None:
                if vetted.observation.signer.lower() in seen:
                    return ObserveReply(
                        vetted.url, vetted.signer, error="same signer as another attester"
                    )
                seen.add(vetted.observation.signer.lower())
            return vetted

        replies = self._gather(
            lambda url: self._ask_observation(url, body, limit),
            vet,
            lambda r: r.observation.signer.lower() if r.observation is not None else None,
            quorum,
            lambda url, reached: ObserveReply(
                url, error=None if reached else f"no answer within {self.timeout:g}s"
            ),
            lambda url, error: ObserveReply(url, error=f"reply not usable: {error}"),
        )
        return Observations(quorum, tuple(replies))

    def _ask_observation(self, url: str, body: dict, limit: int) -> ObserveReply:
        status, data, error = self._exchange(f"{url}/v1/observe", body, limit)
        if error is not None:
            return ObserveReply(url, error=error)
        if not isinstance(data, dict):
            return ObserveReply(url, error=f"HTTP {status}: reply is not a JSON object")
        if status != 200:
            reply = self._interpret(url, status, data)
            return ObserveReply(url, reply.signer, refusals=reply.refusals, error=reply.error)
        try:
            observation = SignedObservation.from_json(data)
        except ProposalError as exc:
            return ObserveReply(url, error=f"bad observation: {loggable(exc)}")
        return ObserveReply(url, observation.signer, observation, _refusals(data))

    @staticmethod
    def _vet_observation(
        reply: ObserveReply,
        chain_id: int,
        oracle: str,
        feeds: set[str],
        bars: int,
        allowed: set[str],
    ) -> ObserveReply:
        o = reply.observation
        if o is None:
            return reply
        try:
            recovered = o.recover(chain_id, oracle)
        except Exception as exc:  # eth_keys raises several types on malformed signatures
            return ObserveReply(reply.url, o.signer, error=f"bad signature: {loggable(exc)}")
        if recovered.lower() != o.signer.lower():
            return ObserveReply(
                reply.url, recovered, error=f"signature recovers to {recovered}, not {o.signer}"
            )
        if recovered.lower() not in allowed:
            return ObserveReply(
                reply.url, recovered, error=f"{recovered} is not in the oracle's attester set"
            )
        extra = [f for f in o.feeds if f not in feeds]
        if extra:
            return ObserveReply(
                reply.url, recovered, error=f"observed unrequested feeds {loggable(extra)}"
            )
        wrong = [n for n, s in o.observed if not 0 < len(s) <= bars]
        if wrong:
            return ObserveReply(
                reply.url, recovered, error=f"not 1 to {bars} bars of {loggable(', '.join(wrong))}"
            )
        return reply

    # ------------------------------------------------------------------ phase 2: sign

    def collect(
        self,
        proposal: Proposal,
        threshold: int,
        attesters: Sequence[str],
        circuit: Mapping[str, int] | None = None,
    ) -> Outcome:
        """Ask every attester at once; return when every attester answered, `timeout` passed,
        or `grace` after `threshold` valid signatures are in. With `circuit` (this node's
        {"slots", "input_scale", "output_scale"}), an attester whose /v1/health shows other
        values is not asked: its reply is the error naming it and both values (it would only
        refuse with CommitmentMismatch)."""
        allowed = {a.lower() for a in attesters}
        body = proposal.to_json()
        signers: set[str] = set()

        def vet(reply: AttesterReply) -> AttesterReply:
            vetted = self._vet(reply, proposal, allowed, signers)
            if vetted.signed:
                signers.add(str(vetted.signer).lower())
            return vetted

        replies = self._gather(
            lambda url: self._ask(url, body, circuit),
            vet,
            lambda r: str(r.signer).lower() if r.signed else None,
            threshold,
            lambda url, reached: AttesterReply(
                url, error=None if reached else f"no answer within {self.timeout:g}s"
            ),
            lambda url, error: AttesterReply(url, error=f"reply not usable: {error}"),
        )
        return Outcome(threshold, tuple(replies))

    def _ask(self, url: str, body: dict, circuit: Mapping[str, int] | None = None) -> AttesterReply:
        """One attester's reply; whatever it sends (too much, too deep, garbage, too slowly)
        becomes an `error` of that reply, never an exception."""
        if circuit:
            mismatch = self.circuit_mismatch(url, circuit)
            if mismatch is not None:
                return AttesterReply(url, error=mismatch)
        status, data, error = self._exchange(f"{url}/v1/attest", body, MAX_REPLY_BYTES)
        if error is not None:
            return AttesterReply(url, error=error)
        return self._interpret(url, status, data)

    def circuit_mismatch(self, url: str, circuit: Mapping[str, int]) -> str | None:
        """What differs between `url`'s /v1/health and `circuit` (this node's values), or None.
        An attester whose health does not say (unreachable, older, garbage) is not judged
        here: asking it to sign shows what is wrong with it."""
        _, data, error = self._exchange(f"{url}/v1/health", None, MAX_REPLY_BYTES)
        if error is not None or not isinstance(data, dict):
            return None
        differ = [
            f"{key} {loggable(data[key], NAME_CHARS)} (this node's circuit: {mine})"
            for key, mine in circuit.items()
            if key in data and data[key] != mine
        ]
        if not differ:
            return None
        return f"circuit mismatch: attester {url} has " + ", ".join(differ) + "; not asked to sign"

    def _exchange(self, url: str, body: dict | None, limit: int) -> tuple[int, Any, str | None]:
        """POST `body` to `url` (GET when None): (status, parsed reply, None), or
        (status, None, error) for whatever makes the reply unusable (too much, too deep,
        garbage, too slow, no answer)."""
        try:
            status, raw = self._post(url, body, limit)
        except TooLarge as exc:
            return 0, None, f"reply refused: {exc}"
        except httpx.TimeoutException as exc:
            return 0, None, f"no answer within {self.timeout:g}s ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            return 0, None, f"unreachable: {type(exc).__name__}: {loggable(exc)}"
        try:
            return status, parse_json(raw, limit), None
        except WireError as exc:
            return status, None, f"HTTP {status}: reply refused: {exc}"

    def _post(self, url: str, body: dict | None, limit: int = MAX_REPLY_BYTES) -> tuple[int, bytes]:
        """POST `body` (GET when None); the status and at most `limit` bytes of reply
        (TooLarge beyond), all within `timeout` seconds."""
        deadline = time.monotonic() + self.timeout
        with (
            httpx.Client(timeout=self.timeout) as http,
            http.stream("GET" if body is None else "POST", url, json=body) as response,
        ):
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise TooLarge(f"Content-Length {declared} over {limit} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"over {limit} bytes")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("reply still arriving at the deadline")
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)

    @staticmethod
    def _interpret(url: str, status: int, data: Any) -> AttesterReply:
        """The reply in `data` (parsed JSON of any shape) as an AttesterReply."""
        if not isinstance(data, dict):
            return AttesterReply(url, error=f"HTTP {status}: reply is not a JSON object")
        raw_signer = data.get("signer")
        signer = raw_signer if isinstance(raw_signer, str) and _ADDRESS.match(raw_signer) else None
        signature = data.get("signature")
        if status == 200 and isinstance(signature, str):
            try:
                sig = bytes.fromhex(signature.removeprefix("0x"))
            except ValueError:
                return AttesterReply(url, signer, error="signature is not hex")
            if len(sig) != 65:
                return AttesterReply(url, signer, error=f"signature is {len(sig)} bytes, not 65")
            return AttesterReply(url, signer, sig)
        refusals = _refusals(data)
        if status in (400, 413, 422) and refusals:
            return AttesterReply(url, signer, refusals=refusals)
        return AttesterReply(url, signer, error=f"HTTP {status}: {loggable(data)}")

    @staticmethod
    def _vet(
        reply: AttesterReply, proposal: Proposal, allowed: set[str], signers: set[str]
    ) -> AttesterReply:
        """A signature counts only if it recovers to a configured attester not yet counted."""
        if not reply.signed:
            return reply
        assert reply.signature is not None
        try:
            recovered = recover_signer(
                proposal.chain_id, proposal.oracle, proposal.report, proposal.commitment,
                reply.signature,
            )  # fmt: skip
        except Exception as exc:  # eth_keys raises several types on malformed signatures
            return AttesterReply(reply.url, reply.signer, error=f"bad signature: {exc}")
        if reply.signer is None or recovered.lower() != str(reply.signer).lower():
            return AttesterReply(
                reply.url, recovered, error=f"signature recovers to {recovered}, not {reply.signer}"
            )
        if recovered.lower() not in allowed:
            return AttesterReply(
                reply.url, recovered, error=f"{recovered} is not in the oracle's attester set"
            )
        if recovered.lower() in signers:
            return AttesterReply(reply.url, recovered, error="same signer as another attester")
        return reply


def _refusals(data: dict) -> tuple[Refusal, ...]:
    """The refusals of a reply (at most MAX_REFUSALS, every string cut and escaped)."""
    raw = data.get("refusals")
    return tuple(
        Refusal(
            loggable(r.get("code"), NAME_CHARS),
            loggable(r["feed"], NAME_CHARS) if isinstance(r.get("feed"), str) else None,
            loggable(r.get("detail")),
        )
        for r in (raw[:MAX_REFUSALS] if isinstance(raw, list) else ())
        if isinstance(r, dict)
    )
