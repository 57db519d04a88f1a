"""The attester's HTTP endpoint (FastAPI, served by uvicorn).

    POST /v1/attest   a proposal (report.Proposal.to_json)
        200 {"signer", "signature", "digest"}            every check passed: signed
        422 {"signer", "refusals": [{code, feed, detail}]} refused, with every reason
    GET  /v1/health   {"signer", "chain_id", "oracle", "slots", "feeds"}

The key is held in a `SigningKey` (repr redacted) and never logged or returned.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

from oracle.attest.checks import Checker, Refusal
from oracle.attest.report import Proposal, ProposalError, digest, sign_report
from oracle.node.keys import SigningKey

log = logging.getLogger("proofcast.attest")


def create_app(checker: Checker, key: SigningKey) -> FastAPI:
    """The attester API for `checker`'s policy, signing with `key`."""
    app = FastAPI(title="Proofcast attester", docs_url=None, redoc_url=None, openapi_url=None)
    policy = checker.policy

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {
            "signer": key.address,
            "chain_id": policy.chain_id,
            "oracle": policy.oracle,
            "slots": policy.slots,
            "feeds": sorted(checker.feeds),
        }

    @app.post("/v1/attest")
    def attest(payload: Any = Body(...)) -> JSONResponse:  # noqa: B008 (FastAPI idiom)
        try:
            proposal = Proposal.from_json(payload)
        except ProposalError as exc:
            refusals = [Refusal("BadProposal", None, str(exc))]
        else:
            refusals = checker.check(proposal)
        if refusals:
            for r in refusals:
                log.warning("refused: %s", r)
            return JSONResponse(
                status_code=422,
                content={"signer": key.address, "refusals": [r.to_json() for r in refusals]},
            )
        signature = sign_report(
            key.reveal(), proposal.chain_id, proposal.oracle, proposal.report, proposal.commitment
        )
        signed = digest(proposal.chain_id, proposal.oracle, proposal.report, proposal.commitment)
        log.info(
            "signed %s observed at %s (commitment %s)",
            ", ".join(n for n in proposal.slots if n is not None),
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


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run `app` with uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, ws="none")


class BackgroundServer:
    """`app` served by uvicorn on a thread of this process (tests: real HTTP, no subprocess)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import threading

        import uvicorn

        from oracle.chain.anvil import free_loopback_port

        self.port = port or free_loopback_port()
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", ws="none")
        self.server = uvicorn.Server(config)
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
