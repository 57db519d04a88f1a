"""The attester's HTTP endpoint (FastAPI, served by uvicorn).

    POST /v1/observe  {"chain_id", "oracle", "feeds": [name, ...], "bars": N}
        200 {"signer", "observations": [{feed, dates, open, high, low, close}], "signature",
             "refusals": [...]}   this attester's own last N bars of each feed it can read,
                                  signed (report.sign_observation); the others refused by name
        422 {"signer", "refusals": [...]}                   wrong domain, nothing observable
    POST /v1/attest   a proposal (report.Proposal.to_json) carrying >= 2f+1 observations
        200 {"signer", "signature", "digest"}              every check passed: signed
        422 {"signer", "refusals": [{code, feed, detail}]}  refused, with every reason
        400 / 413 {"signer", "refusals": [BadProposal]}     not JSON, nested too deep, too large
    GET  /v1/health   {"signer", "chain_id", "oracle", "slots", "input_scale", "output_scale",
                       "feeds"}   slots and scales as read from the circuit (the node compares
                                  them with its own before asking for signatures)

A peer cannot make it crash, stall or grow: the body is capped (`proposal_body_limit` of the
policy's slots, bars and `max_observations`; `observe_request_limit`; Content-Length checked
first, then while reading) and its nesting depth counted before `json.loads`; slot, bar and
observation counts are checked before any feature is computed or signature recovered; headers
and body must arrive within `REQUEST_TIMEOUT` seconds; at most `MAX_CONNECTIONS` connections are
served at once; untrusted strings are escaped and cut before they are logged.
The key is held in a `SigningKey` (repr redacted) and never logged or returned.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from oracle.attest.checks import Checker, CheckPolicy, Refusal
from oracle.attest.report import Proposal, ProposalError, digest, sign_observation, sign_report
from oracle.attest.wire import (
    NAME_CHARS,
    TooLarge,
    WireError,
    loggable,
    observe_request_limit,
    parse_json,
)
from oracle.attest.wire import proposal_body_limit as body_limit
from oracle.node.keys import SigningKey

log = logging.getLogger("proofcast.attest")

REQUEST_TIMEOUT = 10.0  # seconds for a request's headers and body to arrive (slowloris)
KEEP_ALIVE = 5  # seconds an idle connection stays open
MAX_CONNECTIONS = 32  # connections + requests in flight; beyond, 503
MAX_HEADER_BYTES = 16 * 1024  # h11's cap on the request line + headers


def create_app(checker: Checker, key: SigningKey) -> FastAPI:
    """The attester API for `checker`'s policy, signing with `key`."""
    app = FastAPI(title="Proofcast attester", docs_url=None, redoc_url=None, openapi_url=None)
    policy = checker.policy
    if checker.address is None:
        checker.address = key.address
    elif checker.address.lower() != key.address.lower():
        raise ValueError(f"checker is for {checker.address}, the key is {key.address}")
    max_bytes = body_limit(policy.slots, policy.bars, policy.max_observations)
    observe_bytes = observe_request_limit(policy.slots)

    def refuse(status: int, *refusals: Refusal) -> JSONResponse:
        for r in refusals:
            log.warning("refused: %s", loggable(r))
        return JSONResponse(
            status_code=status,
            content={"signer": key.address, "refusals": [r.to_json() for r in refusals]},
        )

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {
            "signer": key.address,
            "chain_id": policy.chain_id,
            "oracle": policy.oracle,
            "slots": policy.slots,
            "input_scale": policy.input_scale,
            "output_scale": policy.output_scale,
            "feeds": sorted(checker.feeds),
        }

    async def read_json(request: Request, limit: int) -> Any:
        """The request's JSON body within `limit` bytes and the nesting cap, or the refusal
        (413 too large, 400 not JSON, too deep or cut off) to answer with."""
        try:
            return parse_json(await read_body(request, limit), limit)
        except TooLarge as exc:
            return refuse(413, Refusal("BadProposal", None, f"body too large: {exc}"))
        except WireError as exc:
            return refuse(400, Refusal("BadProposal", None, str(exc)))
        except ClientDisconnect:
            return refuse(400, Refusal("BadProposal", None, "client disconnected mid-body"))

    @app.post("/v1/observe")
    async def observe(request: Request) -> JSONResponse:
        payload = await read_json(request, observe_bytes)
        if isinstance(payload, JSONResponse):
            return payload
        request_refusal = observe_request_refusal(payload, policy)
        if request_refusal is not None:
            return refuse(422, request_refusal)
        observed, refusals = await run_in_threadpool(
            checker.observe, payload["feeds"], payload["bars"]
        )
        for r in refusals:
            log.warning("not observed: %s", loggable(r))
        if not observed:
            return refuse(422, *refusals)
        signed = sign_observation(key.reveal(), policy.chain_id, policy.oracle, observed)
        log.info(
            "observed %s to %s",
            loggable(", ".join(signed.feeds)),
            ", ".join(str(s.dates[-1]) for _, s in observed),
        )
        return JSONResponse(
            content={**signed.to_json(), "refusals": [r.to_json() for r in refusals]}
        )

    @app.post("/v1/attest")
    async def attest(request: Request) -> JSONResponse:
        payload = await read_json(request, max_bytes)
        if isinstance(payload, JSONResponse):
            return payload
        shape = shape_refusal(payload, policy)
        if shape is not None:
            return refuse(422, shape)
        try:
            proposal = Proposal.from_json(payload)
        except ProposalError as exc:
            return refuse(422, Refusal("BadProposal", None, str(exc)))
        refusals = await run_in_threadpool(checker.check, proposal)
        if refusals:
            return refuse(422, *refusals)
        signature = sign_report(
            key.reveal(), proposal.chain_id, proposal.oracle, proposal.report, proposal.commitment
        )
        signed = digest(proposal.chain_id, proposal.oracle, proposal.report, proposal.commitment)
        log.info(
            "signed %s observed at %s (commitment %s)",
            loggable(", ".join(n for n in proposal.slots if n is not None)),
            ", ".join(str(t) for t in proposal.report.observed_at if t),
            proposal.commitment,
        )
        return JSONResponse(
            content={
                "signer": key.address,
                "signature": "0x" + signature.hex(),
                "digest": "0x" + signed.hex(),
            }
        )

    return app


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused (TooLarge) as soon as it is known to exceed `max_bytes`: by its
    Content-Length before reading, else while streaming."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise TooLarge(f"Content-Length {loggable(declared, 32)}, the limit is {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def observe_request_refusal(payload: Any, policy: CheckPolicy) -> Refusal | None:
    """An observation request for another oracle or chain, or not of the form
    {chain_id, oracle, feeds: [at most K names], bars: int}."""
    if not isinstance(payload, dict):
        return Refusal("BadProposal", None, "an observation request is a JSON object")
    chain_id, oracle = payload.get("chain_id"), payload.get("oracle")
    if (
        chain_id != policy.chain_id
        or not isinstance(oracle, str)
        or oracle.lower() != (policy.oracle.lower())
    ):
        return Refusal(
            "WrongDomain",
            None,
            f"request is for oracle {loggable(oracle, NAME_CHARS)} on chain "
            f"{loggable(chain_id, NAME_CHARS)}; this attester observes for {policy.oracle} on "
            f"chain {policy.chain_id}",
        )
    feeds, bars = payload.get("feeds"), payload.get("bars")
    if (
        not isinstance(feeds, list)
        or not 0 < len(feeds) <= policy.slots
        or not all(isinstance(f, str) and 0 < len(f) <= NAME_CHARS for f in feeds)
    ):
        return Refusal(
            "BadProposal",
            None,
            f"feeds must be 1 to {policy.slots} names of at most {NAME_CHARS} characters",
        )
    if not isinstance(bars, int) or isinstance(bars, bool):
        return Refusal("BadBars", None, "bars must be an integer")
    return None


def shape_refusal(payload: Any, policy: CheckPolicy) -> Refusal | None:
    """Refuse a proposal with more slots than the circuit's K, a feed name longer than
    `NAME_CHARS`, a bar list longer than the policy's bars, more observations than
    `max_observations` or an observation of more than K feeds, before any work on it."""
    if not isinstance(payload, dict) or not isinstance(payload.get("slots"), list):
        return None  # Proposal.from_json names what is wrong
    observations = payload.get("observations")
    if isinstance(observations, list):
        if len(observations) > policy.max_observations:
            return Refusal(
                "TooManyObservations",
                None,
                f"{len(observations)} observations, at most {policy.max_observations}",
            )
        for i, o in enumerate(observations):
            inner = o.get("observations") if isinstance(o, dict) else None
            if not isinstance(inner, list):
                continue
            if len(inner) > policy.slots:
                return Refusal(
                    "BadProposal", None, f"observations[{i}] holds {len(inner)} feeds (K = "
                    f"{policy.slots})"
                )  # fmt: skip
            for item in inner:
                refusal = _bars_too_long(item, policy, f"observations[{i}]")
                if refusal is not None:
                    return refusal
    slots = payload["slots"]
    if len(slots) != policy.slots:
        return Refusal("SlotCount", None, f"{len(slots)} slots, the circuit has {policy.slots}")
    for k, slot in enumerate(slots):
        if not isinstance(slot, dict):
            continue
        feed = slot.get("feed")
        if isinstance(feed, str) and len(feed) > NAME_CHARS:
            return Refusal(
                "BadProposal", None, f"slots[{k}].feed is {len(feed)} characters (max {NAME_CHARS})"
            )
        refusal = _bars_too_long(slot.get("bars"), policy, f"slots[{k}]")
        if refusal is not None:
            return refusal
    return None


def _bars_too_long(bars: Any, policy: CheckPolicy, where: str) -> Refusal | None:
    """A bar list (any field of `bars`) longer than the policy's bars; a feed name too long."""
    if not isinstance(bars, dict):
        return None
    feed = bars.get("feed")
    if isinstance(feed, str) and len(feed) > NAME_CHARS:
        return Refusal(
            "BadProposal", None, f"{where}.feed is {len(feed)} characters (max {NAME_CHARS})"
        )
    for field, values in bars.items():
        if isinstance(values, list) and len(values) > policy.bars:
            return Refusal(
                "BadBars",
                loggable(feed, NAME_CHARS) if isinstance(feed, str) else None,
                f"{where}.{loggable(field, NAME_CHARS)}: {len(values)} values, "
                f"expected {policy.bars}",
            )
    return None


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request: its headers and body must have
    arrived within `request_timeout` seconds of the connection opening (or of the previous
    response), else the connection is closed. uvicorn itself has no header or body timeout."""

    request_timeout: float = REQUEST_TIMEOUT
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._receiving():
            self._disarm()  # the request is complete (or the connection is done)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request already received
        if not self.transport.is_closing() and self._receiving():
            self._arm()

    def _receiving(self) -> bool:
        """A request (its headers or body) is still arriving, or none has started yet."""
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.warning(
                "closed the connection of %s: request incomplete after %gs",
                client,
                self.request_timeout,
            )
            self.transport.close()


def server_config(
    app: FastAPI, host: str, port: int, request_timeout: float = REQUEST_TIMEOUT
) -> Any:
    """uvicorn's Config for the attester: h11 with a request deadline, capped headers, short
    keep-alive, bounded concurrency, no websockets, no access log."""
    import uvicorn

    protocol = type(
        "AttesterH11Protocol", (BoundedH11Protocol,), {"request_timeout": request_timeout}
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        ws="none",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE,
        limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        backlog=64,
    )


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run `app` with uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    uvicorn.Server(server_config(app, host, port)).run()


class BackgroundServer:
    """`app` served by uvicorn on a thread of this process (tests: real HTTP, no subprocess)."""

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 0,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        import threading

        import uvicorn

        from oracle.chain.anvil import free_loopback_port

        self.port = port or free_loopback_port()
        self.url = f"http://{host}:{self.port}"
        self.server = uvicorn.Server(server_config(app, host, self.port, request_timeout))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> BackgroundServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"attester server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.stop()
