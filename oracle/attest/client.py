"""The transmitting node's side: propose a report to every attester in parallel, collect
threshold signatures.

Each reply is checked locally before it counts: the signature must recover to the address the
attester claims and that address must be in the oracle's attester set; a signer counts once.
The node proceeds as soon as it holds `threshold` valid signatures (f attesters may be down,
slow or refusing) and submits exactly that many (each extra one costs gas, none adds trust).
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from oracle.attest.checks import Refusal
from oracle.attest.report import Proposal, recover_signer


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
            pending = {pool.submit(self._ask, url, body) for url in self.urls}
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                done, pending = cf.wait(pending, remaining, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    reply = self._vet(future.result(), proposal, allowed, signers)
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
        try:
            response = httpx.post(f"{url}/v1/attest", json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return AttesterReply(url, error=f"unreachable: {type(exc).__name__}: {exc}")
        try:
            data = response.json()
        except ValueError:
            return AttesterReply(url, error=f"HTTP {response.status_code}: not JSON")
        signer = data.get("signer") if isinstance(data, dict) else None
        if response.status_code == 200 and isinstance(data.get("signature"), str):
            try:
                return AttesterReply(
                    url, signer, bytes.fromhex(data["signature"].removeprefix("0x"))
                )
            except ValueError:
                return AttesterReply(url, signer, error="signature is not hex")
        if response.status_code == 422 and isinstance(data.get("refusals"), list):
            refusals = tuple(
                Refusal(str(r.get("code")), r.get("feed"), str(r.get("detail")))
                for r in data["refusals"]
                if isinstance(r, dict)
            )
            return AttesterReply(url, signer, refusals=refusals)
        return AttesterReply(
            url, signer, error=f"HTTP {response.status_code}: {response.text[:200]}"
        )

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
