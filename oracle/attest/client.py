"""The transmitting node's side: propose a report to every attester in parallel, collect
threshold signatures.

Each reply is checked locally before it counts: the signature must recover to the address the
attester claims and that address must be in the oracle's attester set; a signer counts once.
The node proceeds as soon as it holds `threshold` valid signatures (f attesters may be down,
slow or refusing) and submits exactly that many (each extra one costs gas, none adds trust).
"""

from __future__ import annotations

import concurrent.futures as cf
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from oracle.attest.checks import Refusal
from oracle.attest.report import Proposal, recover_signer
from oracle.attest.wire import NAME_CHARS, TooLarge, WireError, loggable, parse_json

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


class AttesterClient:
    """Proposes reports to the attesters at `urls` (each `http://host:port`)."""

    def __init__(self, urls: Sequence[str], timeout: float = 10.0, grace: float = 0.25) -> None:
        self.urls = tuple(u.rstrip("/") for u in urls)
        self.timeout = timeout
        self.grace = grace  # once at threshold, how long the others may still answer (for logs)

    def collect(self, proposal: Proposal, threshold: int, attesters: Sequence[str]) -> Outcome:
        """Ask every attester at once; return when every attester answered, `timeout` passed,
        or `grace` after `threshold` valid signatures are in."""
        allowed = {a.lower() for a in attesters}
        body = proposal.to_json()
        replies: dict[str, AttesterReply] = {}
        signers: set[str] = set()
        deadline = time.monotonic() + self.timeout
        pool = cf.ThreadPoolExecutor(max_workers=max(1, len(self.urls)))
        try:
            asked = {pool.submit(self._ask, url, body): url for url in self.urls}
            pending = set(asked)
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                done, pending = cf.wait(pending, remaining, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    try:
                        reply = self._vet(future.result(), proposal, allowed, signers)
                    except Exception as exc:  # a bug must not cost the honest replies
                        error = f"reply not usable: {type(exc).__name__}: {loggable(exc)}"
                        reply = AttesterReply(asked[future], error=error)
                    replies[reply.url] = reply
                    if reply.signed:
                        signers.add(str(reply.signer).lower())
                if threshold > 0 and len(signers) >= threshold:
                    deadline = min(deadline, time.monotonic() + self.grace)
            reached = threshold > 0 and len(signers) >= threshold
            for url in self.urls:
                if url not in replies:
                    error = None if reached else f"no answer within {self.timeout:g}s"
                    replies[url] = AttesterReply(url, error=error)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return Outcome(threshold, tuple(replies[u] for u in self.urls))

    def _ask(self, url: str, body: dict) -> AttesterReply:
        """One attester's reply; whatever it sends (too much, too deep, garbage, too slowly)
        becomes an `error` of that reply, never an exception."""
        try:
            status, raw = self._post(f"{url}/v1/attest", body)
        except TooLarge as exc:
            return AttesterReply(url, error=f"reply refused: {exc}")
        except httpx.TimeoutException as exc:
            return AttesterReply(
                url, error=f"no answer within {self.timeout:g}s ({type(exc).__name__})"
            )
        except httpx.HTTPError as exc:
            return AttesterReply(url, error=f"unreachable: {type(exc).__name__}: {loggable(exc)}")
        try:
            data = parse_json(raw, MAX_REPLY_BYTES)
        except WireError as exc:
            return AttesterReply(url, error=f"HTTP {status}: reply refused: {exc}")
        return self._interpret(url, status, data)

    def _post(self, url: str, body: dict) -> tuple[int, bytes]:
        """POST `body`; the status and at most MAX_REPLY_BYTES of reply (TooLarge beyond),
        all within `timeout` seconds."""
        deadline = time.monotonic() + self.timeout
        with (
            httpx.Client(timeout=self.timeout) as http,
            http.stream("POST", url, json=body) as response,
        ):
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
                raise TooLarge(f"Content-Length {declared} over {MAX_REPLY_BYTES} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise TooLarge(f"over {MAX_REPLY_BYTES} bytes")
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
        raw_refusals = data.get("refusals")
        refusals = tuple(
            Refusal(
                loggable(r.get("code"), NAME_CHARS),
                loggable(r["feed"], NAME_CHARS) if isinstance(r.get("feed"), str) else None,
                loggable(r.get("detail")),
            )
            for r in (raw_refusals[:MAX_REFUSALS] if isinstance(raw_refusals, list) else ())
            if isinstance(r, dict)
        )
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
