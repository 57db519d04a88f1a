"""Misbehaving attesters as real HTTP servers on loopback (uvicorn on a thread): each answers an
observation request and a proposal in one hostile way. Shared by the client tests and the
node's publishing test."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from models.data import load_ohlc_csv
from oracle.attest.report import Proposal, sign_observation, sign_report
from oracle.chain.anvil import free_loopback_port
from oracle.node.keys import SigningKey

NESTED_BYTES = 400_000  # the measured attack: 400 KB of nested JSON crashed `node run`
DEEP_BYTES = 60_000  # under the client's size cap: 30,000 levels
DEEP_OBSERVE_BYTES = 8_000  # under the cap of an observation of 2 feeds: 4,000 levels
HUGE_BYTES = 30 * 1024 * 1024

# behaviour -> the substring the node's client reports for that attester
BEHAVIOURS: dict[str, str] = {
    "nested": "reply refused: Content-Length 400000",  # the measured attack: over the size cap
    "deep": "nested deeper than",  # nested JSON within the size cap
    "huge": "reply refused: over",
    "slow": "no answer within",
    "wrong_signature": "signature recovers to",
    "garbage": "not JSON",
    "other_report": "signature recovers to",
    "log_injection": "refused: Forged",
}
# behaviour -> what the node's client reports for that attester's observation
OBSERVE_BEHAVIOURS: dict[str, str] = {
    **BEHAVIOURS,
    "other_report": "observed",  # a member's valid signature over a lie: outvoted by the median
    "log_injection": "refused to observe: Forged",
}
LIE = 1.05  # other_report observes every price 5 % higher than its data


def bad_app(
    behaviour: str, key: SigningKey, slow_seconds: float = 30.0, data: Path | None = None
) -> FastAPI:
    """An attester app that answers every observation request and proposal with `behaviour` (a
    key of BEHAVIOURS). `key` is the attester's registered key (used where the attack signs);
    `data` the CSV directory other_report lies about."""
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    stop = threading.Event()
    app.state.stop = stop

    @app.post("/v1/observe")
    async def observe(request: Request) -> Response:
        asked = await request.json()
        hostile = await hostile_reply(DEEP_OBSERVE_BYTES, detail_chars=5_000)
        if hostile is not None:
            return hostile
        if behaviour == "other_report" and data is None:
            return JSONResponse({"signer": key.address, "refusals": []}, status_code=422)
        observed = []
        for name in asked["feeds"] if data is not None else ():
            s = load_ohlc_csv(data / f"{name}.csv", calendar="daily")
            s = s.slice(len(s) - asked["bars"])
            lie = {f: getattr(s, f) * LIE for f in ("open", "high", "low", "close")}
            observed.append((name, replace(s, **lie, volume=None)))
        signing_key = key.reveal()
        if behaviour == "wrong_signature":
            signing_key = "0x" + os.urandom(32).hex()
        signed = sign_observation(signing_key, asked["chain_id"], asked["oracle"], observed)
        return JSONResponse({**signed.to_json(), "signer": key.address})

    async def hostile_reply(
        deep_bytes: int = DEEP_BYTES, detail_chars: int = 50_000
    ) -> Response | None:
        """The reply of the behaviours that do not depend on what was asked."""
        if behaviour in ("nested", "deep"):
            half = NESTED_BYTES // 2 if behaviour == "nested" else deep_bytes // 2
            return Response(b"[" * half + b"]" * half, media_type="application/json")
        if behaviour == "huge":

            async def chunks() -> AsyncIterator[bytes]:
                block = b'{"signer": "' + b"x" * 65_000 + b'"}'
                for _ in range(HUGE_BYTES // len(block)):
                    yield block

            return StreamingResponse(chunks(), media_type="application/json")
        if behaviour == "slow":
            deadline = time.monotonic() + slow_seconds
            while time.monotonic() < deadline and not stop.is_set():
                await asyncio.sleep(0.05)
            return JSONResponse({"signer": key.address, "signature": "0x" + "00" * 65})
        if behaviour == "log_injection":  # newlines and 50k characters for the node's logs
            forged = {
                "code": "Forged\nINFO signed",
                "feed": "ETH-USD\nx",
                "detail": "y" * detail_chars,
            }
            return JSONResponse({"signer": key.address, "refusals": [forged]}, status_code=422)
        if behaviour == "garbage":
            return Response(os.urandom(2048), media_type="application/json")
        return None

    @app.post("/v1/attest")
    async def attest(request: Request) -> Response:
        proposal = Proposal.from_json(await request.json())
        hostile = await hostile_reply()
        if hostile is not None:
            return hostile
        report = proposal.report
        signing_key = key.reveal()
        if behaviour == "wrong_signature":  # a well-formed signature by a key not its own
            signing_key = "0x" + os.urandom(32).hex()
        else:  # other_report: its own key, over the same feeds observed a day earlier
            report = replace(
                report, observed_at=tuple(max(0, t - 86_400) for t in report.observed_at)
            )
        signature = sign_report(
            signing_key, proposal.chain_id, proposal.oracle, report, proposal.commitment
        )
        return JSONResponse({"signer": key.address, "signature": "0x" + signature.hex()})

    return app


class BadAttester:
    """`bad_app(behaviour, key)` served by uvicorn on a loopback thread."""

    def __init__(self, behaviour: str, key: SigningKey, data: Path | None = None) -> None:
        self.behaviour = behaviour
        self.app = bad_app(behaviour, key, data=data)
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="error",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> BadAttester:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"bad attester did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.state.stop.set()
        self.server.should_exit = True
        self.thread.join(timeout=10)
