"""The node loop: observe -> decide -> attest -> prove -> sign+journal -> broadcast -> confirm.

Attest, two phases (oracle.attest): every attester returns its signed observation of the due
feeds; the report's bars and features are the canonical rule over at least 2f+1 of them (no
choice is left to the node); the attesters sign it only if it is. The proof is made only on the
features whose commitment threshold attesters signed, for exactly the feeds and observation
times they signed. One round at a time. Each step is journaled before the next begins, and
`recover` finishes or abandons whatever a previous process left unfinished before anything new
starts, so the node can be killed at any instant. Crash points for tests:
PROOFCAST_CRASH_AT=after_attest|after_prove|after_sign|after_submit|after_bump makes the process
exit with status 137 right after that step.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from web3 import Web3

from circuits.artifacts import CircuitArtifacts
from circuits.layout import InstanceLayout
from circuits.manifest import check_manifest
from circuits.pipeline import prove, witness_outputs
from models.features import HISTORY_BARS
from oracle.attest.checks import quorum
from oracle.attest.client import AttesterClient, select_observations
from oracle.attest.report import SIGNATURE_TTL, NotCanonicalError, bars_to_json, canonical_proposal
from oracle.chain.contracts import SlotReport, require_risk_oracle
from oracle.errors import ChainError
from oracle.node import journal as J
from oracle.node.config import NodeConfig
from oracle.node.errors import ConfigError, SourceError
from oracle.node.journal import Journal, Round
from oracle.node.keys import SigningKey
from oracle.node.metrics import Metrics
from oracle.node.publisher import Publisher, RiskOraclePublisher
from oracle.node.retry import Backoff, with_retries
from oracle.node.schedule import Decision, OnChainValue, decide
from oracle.node.sources import MarketSource, Observation
from oracle.node.transactions import (
    Fees,
    NonceUsed,
    Preflight,
    Underpriced,
    broadcast,
    bump_fees,
    estimate_gas,
    initial_fees,
    receipt_or_none,
    replay_revert,
    sign,
)

log = logging.getLogger("proofcast.node")
T = TypeVar("T")
CRASH_ENV = "PROOFCAST_CRASH_AT"


def crash_point(name: str) -> None:
    """Fault injection for the kill tests: exit at once (no cleanup) at step `name`."""
    if os.environ.get(CRASH_ENV) == name:
        log.warning("fault injection: exiting at %s", name)
        logging.shutdown()
        os._exit(137)


def make_web3(config: NodeConfig) -> Web3:
    """A plain Web3 (no signing middleware, no built-in retries: the node does both)."""
    provider = Web3.HTTPProvider(
        config.rpc_url,
        request_kwargs={"timeout": config.rpc_timeout_seconds},
        exception_retry_configuration=None,
    )
    return Web3(provider)


def _held_by(held: Round) -> str:
    """Why an observation is not published again: the round that already holds it."""
    why = f"this observation already has round {held.id} ({held.state}"
    why += f": {held.error})" if held.error else ")"
    if held.state in (J.ABANDONED, J.REVERTED):
        why += f"; run `proofcast node retry {held.id}` to publish it in a new round"
    return why


@dataclass(frozen=True)
class TickResult:
    """What one iteration did (for logs, the CLI and tests)."""

    round: Round | None
    decisions: list[Decision]
    skipped: str | None = None


class Node:
    """A Proofcast oracle node bound to one circuit, one oracle contract and one journal."""

    def __init__(
        self,
        config: NodeConfig,
        key: SigningKey,
        source: MarketSource,
        journal: Journal | Path,
        metrics: Metrics | None = None,
        w3: Web3 | None = None,
        publisher: Publisher | None = None,
        clock: Callable[[], float] | None = None,
        attestors: AttesterClient | None = None,
        rpc_attempts: int = 0,
    ) -> None:
        """Check the circuit, the chain, the contract and the attesters, then open the journal
        (a `Path` is opened only once all checks passed, so a failed start writes nothing).
        `rpc_attempts`: RPC calls give up after this many (0: retry until stopped, `run`)."""
        self.config = config
        self.key = key
        self.source = source
        self.metrics = metrics or Metrics()
        self.w3 = w3 or make_web3(config)
        # "now" for schedules: the machine's clock, or the chain's (testnets, time-warped soaks)
        self.clock = clock or (self._chain_time if config.clock == "chain" else time.time)
        self.stop_event = threading.Event()
        self.artifacts = CircuitArtifacts(config.circuit_dir)
        self.manifest = check_manifest(self.artifacts)  # ArtifactMismatchError on a bad set
        self.layout: InstanceLayout = self.manifest.instance_layout()
        self.compiled = None
        if config.model is not None:
            self.compiled = self.artifacts.model_dir(config.model).compiled
            if not self.compiled.is_file():
                raise ConfigError(
                    f"node.model: no compiled weights {self.compiled} (run compile_model first)"
                )
        # what every attester's /v1/health must show before it is asked to sign
        self.circuit_shape = {
            "slots": self.layout.num_feeds,
            "input_scale": self.manifest.input_scale,
            "output_scale": self.manifest.output_scale,
        }
        if len(config.feeds) != self.layout.num_feeds:
            raise ConfigError(
                f"feeds: {len(config.feeds)} configured, but the circuit at {config.circuit_dir} "
                f"proves {self.layout.num_feeds} feeds per report (RiskOracle needs all K)"
            )
        self.backoff = Backoff(
            initial=config.backoff_initial_seconds,
            maximum=config.backoff_max_seconds,
            attempts=rpc_attempts,
        )
        self.chain_id = self._rpc("eth_chainId", lambda: self.w3.eth.chain_id)
        if self.chain_id != config.chain_id:
            raise ConfigError(
                f"node.chain_id: RPC {config.rpc_url} is chain {self.chain_id}, "
                f"config says {config.chain_id}"
            )
        try:
            address = config.oracle_address
            self._rpc("RiskOracle check", lambda: require_risk_oracle(self.w3, address))
        except ChainError as exc:
            raise ConfigError(f"node.oracle_address: {exc}") from exc
        self.publisher = publisher or RiskOraclePublisher(self.w3, config.oracle_address)
        self.attestors = attestors or AttesterClient(
            config.attesters, config.attest_timeout_seconds
        )
        if not self.attestors.urls:
            raise ConfigError(
                "node.attesters: no attester URLs (RiskOracle needs their signatures)"
            )
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)

    # ------------------------------------------------------------------ plumbing

    def _rpc(self, what: str, call: Callable[[], T]) -> T:
        return with_retries(
            call,
            what,
            self.config.rpc_url,
            self.backoff,
            on_retry=lambda: self.metrics.inc("proofcast_rpc_retries_total"),
            should_stop=self.stop_event.is_set,
        )

    def _chain_time(self) -> float:
        return float(
            self._rpc("eth_getBlockByNumber", lambda: self.w3.eth.get_block("latest"))["timestamp"]
        )

    def stop(self) -> None:
        """Ask the loop to finish the current step and return (SIGTERM handler)."""
        self.stop_event.set()

    # ------------------------------------------------------------------ loop

    def run(self, max_ticks: int | None = None) -> None:
        """Recover, then tick every `poll_seconds` until `stop()` (or `max_ticks`)."""
        log.info(
            "node %s publishing %s to %s on chain %d",
            self.key.address,
            ", ".join(f.name for f in self.config.feeds),
            self.config.oracle_address,
            self.chain_id,
        )
        ticks = 0
        while not self.stop_event.is_set():
            self.tick()
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            self.stop_event.wait(self.config.poll_seconds)
        log.info("node stopped after %d ticks", ticks)

    def tick(self, force: bool = False) -> TickResult:
        """One iteration: finish unfinished rounds, then publish the feeds that are due
        (`force`: every feed with a newer observation than on chain). A feed whose data is
        missing or refused is left out of the round; the others still publish."""
        self.metrics.set("proofcast_last_tick_timestamp", self.clock())
        self.recover()
        self.refresh_feed_metrics()
        observations: dict[str, Observation] = {}
        refused: dict[str, str] = {}
        for feed in self.config.feeds:
            try:
                observations[feed.name] = self.source.observe(feed)
            except SourceError as exc:
                log.error("feed %s left out: %s", feed.name, exc)
                self.metrics.inc("proofcast_errors_total", kind="data")
                refused[feed.name] = str(exc)
        if not observations:
            return TickResult(
                None, [], skipped="no feed has usable data: " + "; ".join(refused.values())
            )
        features = self._feature_matrix(observations)
        forecasts = self._forecasts(features)
        decisions = self._decide(observations, refused, forecasts, force)
        for d in decisions:
            log.info("feed %s: %s (%s)", d.feed, "due" if d.due else "not due", d.reason)
        due = [d.due for d in decisions]
        if not any(due):
            return TickResult(None, decisions)
        observed_at = {
            f.name: observations[f.name].observed_at
            for f, d in zip(self.config.feeds, due, strict=True)
            if d
        }
        held = self.journal.round_of(observed_at)
        if held is not None:
            return TickResult(None, decisions, skipped=_held_by(held))
        included = {name: observations[name] for name in observed_at}
        opened = self.journal.open_round(
            observed_at,
            [f.name for f in self.config.feeds],
            due,
            self._feature_matrix(included).tolist(),
            forecasts,
            [bars_to_json(included[f.name].bars) if f.name in included else None
             for f in self.config.feeds],
        )  # fmt: skip
        if opened is None:
            held = self.journal.round_of(observed_at)
            reason = _held_by(held) if held else "observation already has a round"
            return TickResult(None, decisions, skipped=reason)
        log.info("round %d observed: %s", opened.id, ", ".join(opened.due_feeds))
        return TickResult(self.finish(opened), decisions)

    def refresh_feed_metrics(self) -> None:
        """Staleness and answers of every feed as the chain has them now."""
        now = self.clock()
        for feed in self.config.feeds:
            value = self._rpc("feedState", lambda f=feed: self.publisher.latest(f.name))
            if value is not None:
                self.metrics.set(
                    "proofcast_feed_staleness_seconds", now - value.updated_at, feed=feed.name
                )
                for name, answer in zip(self.layout.output_names, value.answers, strict=True):
                    self.metrics.set("proofcast_feed_answer", answer, feed=f"{feed.name}/{name}")

    def _feature_matrix(self, observations: dict[str, Observation]) -> np.ndarray:
        """The proved input: one row per slot, zeros for a feed not in `observations` (an
        empty slot: attesters commit to the same zero row)."""
        rows = np.zeros((len(self.config.feeds), self.manifest.num_features))
        for k, feed in enumerate(self.config.feeds):
            if feed.name in observations:
                rows[k] = observations[feed.name].features
        return rows

    def _forecasts(self, features: np.ndarray) -> list[list[float]]:
        instances = witness_outputs(self.artifacts, features, "forecast", self.compiled)
        return self.layout.float_outputs(instances)

    def _decide(
        self,
        observations: dict[str, Observation],
        refused: dict[str, str],
        forecasts: list[list[float]],
        force: bool,
    ) -> list[Decision]:
        now = self.clock()
        decisions = []
        for feed, forecast in zip(self.config.feeds, forecasts, strict=True):
            if feed.name not in observations:
                decisions.append(Decision(feed.name, False, f"data refused: {refused[feed.name]}"))
                continue
            observed_at = observations[feed.name].observed_at
            onchain: OnChainValue | None = self._rpc(
                "feedState", lambda f=feed: self.publisher.latest(f.name)
            )
            d = decide(
                feed.name,
                forecast,
                observed_at,
                onchain,
                now,
                feed.heartbeat_seconds,
                feed.deviation_bps,
            )
            if force and not d.due and onchain is not None:
                newer = observed_at > onchain.observed_at
                d = Decision(feed.name, newer, "forced" if newer else d.reason)
            decisions.append(d)
        return decisions

    # ------------------------------------------------------------------ one round

    def recover(self) -> None:
        """Finish or abandon every round a previous run left unfinished (oldest first)."""
        for rnd in self.journal.unfinished():
            log.warning("recovering round %d left in state %r", rnd.id, rnd.state)
            self.finish(rnd)

    def finish(self, rnd: Round) -> Round:
        """Drive `rnd` from its current state to a terminal one."""
        if rnd.state in (J.OBSERVED, J.ATTESTED, J.PROVEN):
            age = time.time() - rnd.created_at  # an operational timeout: wall time
            if age > self.config.max_round_age_seconds:
                return self._end(
                    rnd, J.ABANDONED, error=f"round opened {age:.0f}s ago: too old to publish"
                )
        if rnd.state == J.OBSERVED:
            rnd = self._attest(rnd)
            if rnd.state in J.TERMINAL:
                return rnd
            crash_point("after_attest")
        if rnd.state == J.ATTESTED:
            rnd = self._prove(rnd)
            crash_point("after_prove")
        if rnd.state == J.PROVEN:
            rnd = self._sign(rnd)
            if rnd.state in J.TERMINAL:
                return rnd
            crash_point("after_sign")
        if rnd.state == J.SUBMITTED:
            return self._confirm(rnd)
        return rnd

    def _attest(self, rnd: Round) -> Round:
        """Gather signed observations, propose the canonical report, proceed with `threshold`
        signatures.

        A feed too few attesters observe alike, or one the attesters refuse (their data
        disagrees, or the bar is not their latest), is left out and the rest proposed again, so
        one bad feed never blocks the others."""
        config = self._rpc("attester config", self.publisher.attester_config)
        need = self.config.min_observations or quorum(config.threshold)
        # At most every bar the features use: each attester answers with all it holds up to
        # that (a fact of its data), however many the node itself holds.
        bars = HISTORY_BARS
        observed = self.attestors.observe(
            self.chain_id, self.config.oracle_address, rnd.due_feeds, bars, need, config.attesters
        )
        for line in observed.describe():
            log.info("round %d observer %s", rnd.id, line)
        used, left_out = select_observations(observed.valid, rnd.due_feeds, need)
        if not used:
            return self._end(
                rnd,
                J.ABANDONED,
                error=f"{len(observed.valid)} of {need} attester observations agree: "
                + "; ".join(observed.describe()),
            )
        while True:
            if left_out:
                for feed in left_out:
                    log.error("round %d: feed %s left out: attesters refused it", rnd.id, feed)
                    self.metrics.inc("proofcast_errors_total", kind="attest")
                due = [d and f not in left_out for f, d in zip(rnd.feeds, rnd.due, strict=True)]
                if not any(due):
                    return self._end(rnd, J.ABANDONED, error="attesters refused every feed")
                rnd = self.journal.update(rnd.id, due=due)
            try:
                proposal, features = canonical_proposal(
                    chain_id=self.chain_id,
                    oracle=self.config.oracle_address,
                    config_version=config.version,
                    input_scale=self.manifest.input_scale,
                    output_scale=self.manifest.output_scale,
                    feeds=rnd.slots,
                    observations=used,
                    # The contract checks expiry against block time: in the node's own "now".
                    valid_until=int(self.clock()) + SIGNATURE_TTL,
                )
            except NotCanonicalError as exc:
                return self._end(rnd, J.ABANDONED, error=f"observations unusable: {exc}")
            outcome = self.attestors.collect(
                proposal, config.threshold, config.attesters, circuit=self.circuit_shape
            )
            for line in outcome.describe():
                log.info("round %d attester %s", rnd.id, line)
            if outcome.reached:
                return self.journal.advance(
                    rnd.id,
                    J.ATTESTED,
                    features=np.asarray(features).tolist(),
                    attestation={
                        "config_version": config.version,
                        "report": proposal.report.to_json(),
                        "commitment": str(proposal.commitment),
                        "signatures": [sig.hex() for sig in outcome.signatures],
                        "signers": list(outcome.signers),
                        "observers": [o.signer for o in used],
                        "outcomes": outcome.describe(),
                    },
                )
            left_out = [f for f in outcome.refused_feeds() if f in rnd.due_feeds]
            if not left_out:
                return self._end(
                    rnd,
                    J.ABANDONED,
                    error=f"{len(outcome.signatures)} of {config.threshold} attester signatures: "
                    + "; ".join(outcome.describe()),
                )

    def _prove(self, rnd: Round) -> Round:
        features = np.asarray(rnd.features, dtype=np.float64)
        proof = prove(self.artifacts, features, f"round-{rnd.id}", self.compiled)
        attested = int((rnd.attestation or {}).get("commitment", -1))
        if proof.instances[0] != attested:
            return self._end(
                rnd,
                J.ABANDONED,
                error=f"proof commits to inputs {proof.instances[0]}, attesters signed {attested}",
            )
        self.metrics.observe("proofcast_proof_seconds", proof.prove_seconds)
        _release_memory()
        self.metrics.inc("proofcast_proofs_total")
        log.info("round %d proven in %.1fs", rnd.id, proof.prove_seconds)
        return self.journal.advance(
            rnd.id,
            J.PROVEN,
            proof_hex=proof.proof_bytes.hex(),
            instances=[str(i) for i in proof.instances],
            prove_seconds=proof.prove_seconds,
        )

    def _calldata(self, rnd: Round) -> bytes:
        attestation = rnd.attestation or {}
        report = SlotReport.from_json(attestation["report"])
        return self.publisher.submit_calldata(
            report,
            bytes.fromhex(rnd.proof_hex or ""),
            [int(i) for i in rnd.instances or []],
            [bytes.fromhex(sig) for sig in attestation.get("signatures", [])],
        )

    def _sign(self, rnd: Round) -> Round:
        data = self._calldata(rnd)
        to, sender = self.config.oracle_address, self.key.address
        try:
            gas = self._rpc("eth_estimateGas", lambda: estimate_gas(self.w3, sender, to, data))
        except Preflight as exc:
            return self._reverted(rnd, self.publisher.decode_error(exc.data), "preflight")
        nonce = self._next_nonce()
        fees = self._rpc(
            "fees",
            lambda: initial_fees(self.w3, self.config.priority_fee_wei, self.config.max_fee_wei),
        )
        signed = sign(
            self.key, to, data, int(gas * self.config.gas_limit_margin), nonce, self.chain_id, fees
        )
        log.info(
            "round %d signed: nonce %d, tx %s (max fee %.2f gwei, tip %.2f gwei)",
            rnd.id, signed.nonce, signed.tx_hash, fees.max_fee / 1e9, fees.tip / 1e9,
        )  # fmt: skip
        return self.journal.advance(
            rnd.id,
            J.SUBMITTED,
            nonce=signed.nonce,
            tx_hash=signed.tx_hash,
            raw_tx=signed.raw,
            fees=fees.to_json(),
        )

    def _bump(self, rnd: Round, why: str) -> Round | None:
        """Replace the round's transaction at the same nonce with higher fees, journaled before
        it is broadcast; None when the fee cap leaves no room (the round stays submitted)."""
        assert rnd.raw_tx is not None and rnd.nonce is not None
        signed_tx = _tx_fields(rnd.raw_tx)
        old = Fees.from_json(rnd.fees) or Fees(
            int(signed_tx["maxFeePerGas"]), int(signed_tx["maxPriorityFeePerGas"])
        )
        fees = self._rpc(
            "fees",
            lambda: bump_fees(self.w3, old, self.config.fee_bump_percent, self.config.max_fee_wei),
        )
        if fees is None:
            log.error(
                "round %d: %s, but max fee is at the cap (%.2f gwei): waiting for fees to fall",
                rnd.id, why, self.config.max_fee_wei / 1e9,
            )  # fmt: skip
            self.metrics.inc("proofcast_errors_total", kind="fee_cap")
            return None
        gas = int(signed_tx["gas"])
        signed = sign(
            self.key, self.config.oracle_address, self._calldata(rnd), gas, rnd.nonce,
            self.chain_id, fees,
        )  # fmt: skip
        log.warning(
            "round %d: %s; replacing tx %s with %s (max fee %.2f -> %.2f gwei, tip %.2f gwei)",
            rnd.id, why, rnd.tx_hash, signed.tx_hash, old.max_fee / 1e9, fees.max_fee / 1e9,
            fees.tip / 1e9,
        )  # fmt: skip
        self.metrics.inc("proofcast_fee_bumps_total")
        bumped = self.journal.update(
            rnd.id,
            tx_hash=signed.tx_hash,
            raw_tx=signed.raw,
            fees=fees.to_json(),
            replaced=[*(rnd.replaced or []), rnd.tx_hash],
            broadcast_block=None,
        )
        crash_point("after_bump")
        return bumped

    def _next_nonce(self) -> int:
        """The account's pending nonce, checked against the journal (no gap, no reuse)."""
        pending = self._rpc(
            "eth_getTransactionCount",
            lambda: self.w3.eth.get_transaction_count(self.key.address, "pending"),
        )
        last = self.journal.last_nonce()
        if last is not None and pending <= last:
            confirmed = [r for r in self.journal.rounds(J.CONFIRMED) if r.nonce == last]
            if confirmed:
                raise ConfigError(
                    f"account {self.key.address} has pending nonce {pending} on chain "
                    f"{self.chain_id}, but the journal {self.journal.path} confirmed nonce {last}: "
                    "wrong chain or a reset chain; refusing to reuse nonces"
                )
        return int(pending)

    def _receipt(self, rnd: Round) -> dict[str, Any] | None:
        """The receipt of whichever of the round's transactions (current or replaced) is mined."""
        for tx_hash in (rnd.tx_hash, *(rnd.replaced or [])):
            receipt = receipt_or_none(self.w3, tx_hash)
            if receipt is not None:
                return receipt
        return None

    def _confirm(self, rnd: Round) -> Round:
        """Broadcast the round's transaction and wait for it; bump its fees when it is refused
        as underpriced or not mined within `fee_bump_blocks` blocks. Returns the round still
        `submitted` when the fee cap is reached (the next tick tries again: nothing is lost)."""
        assert rnd.tx_hash is not None and rnd.raw_tx is not None and rnd.nonce is not None
        deadline = time.monotonic() + self.config.confirm_timeout_seconds
        while True:
            receipt = self._rpc("eth_getTransactionReceipt", lambda r=rnd: self._receipt(r))
            if receipt is not None:
                return self._mined(rnd, receipt)
            try:
                self._rpc(
                    "eth_sendRawTransaction", lambda r=rnd: broadcast(self.w3, r.raw_tx, r.tx_hash)
                )
            except Underpriced as exc:
                bumped = self._bump(rnd, f"refused as underpriced ({exc})")
                if bumped is None:
                    return rnd
                rnd = bumped
                continue
            except NonceUsed:
                receipt = self._rpc("receipt", lambda r=rnd: self._receipt(r))
                if receipt is not None:
                    return self._mined(rnd, receipt)
                return self._end(
                    rnd, J.ABANDONED, error=f"nonce {rnd.nonce} used by another transaction"
                )
            crash_point("after_submit")
            if rnd.broadcast_block is None:
                block = self._rpc("eth_blockNumber", lambda: self.w3.eth.block_number)
                rnd = self.journal.update(rnd.id, broadcast_block=int(block))
                log.info("round %d broadcast: tx %s", rnd.id, rnd.tx_hash)
            receipt = self._rpc("wait for receipt", lambda r=rnd: self._wait(r))
            if receipt is not None:
                return self._mined(rnd, receipt)
            if self.stop_event.is_set():
                return rnd
            bumped = self._bump(rnd, f"not mined within {self.config.fee_bump_blocks} blocks")
            if bumped is None:
                if time.monotonic() > deadline:
                    return rnd
                continue
            rnd = bumped

    def _mined(self, rnd: Round, receipt: dict[str, Any]) -> Round:
        mined = "0x" + bytes(receipt["transactionHash"]).hex()
        if mined != rnd.tx_hash:  # an earlier transaction of the round (before a bump) was mined
            rnd = self.journal.update(rnd.id, tx_hash=mined)
        if receipt["status"] == 1:
            gas = int(receipt["gasUsed"])
            self.metrics.set("proofcast_submit_gas", gas)
            self.metrics.inc("proofcast_gas_used_total", gas)
            log.info(
                "round %d confirmed in block %d (%d gas): %s",
                rnd.id,
                receipt["blockNumber"],
                gas,
                ", ".join(rnd.due_feeds),
            )
            self.refresh_feed_metrics()  # before the round counts as confirmed in /metrics
            return self._end(
                rnd, J.CONFIRMED, block_number=int(receipt["blockNumber"]), gas_used=gas
            )
        data = self._rpc(
            "replay revert",
            lambda: replay_revert(
                self.w3,
                self.key.address,
                self.config.oracle_address,
                self._calldata(rnd),
                int(receipt["blockNumber"]),
            ),
        )
        return self._reverted(
            rnd,
            self.publisher.decode_error(data),
            "mined",
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
        )

    def _wait(self, rnd: Round) -> dict[str, Any] | None:
        """Poll for a receipt of any of the round's transactions until `fee_bump_blocks` blocks
        passed since the broadcast or `confirm_timeout_seconds` elapsed; None if not mined."""
        deadline = time.monotonic() + self.config.confirm_timeout_seconds
        start = rnd.broadcast_block or 0
        while True:
            receipt = self._receipt(rnd)
            if receipt is not None:
                return receipt
            if self.w3.eth.block_number >= start + self.config.fee_bump_blocks:
                return None
            if time.monotonic() > deadline or self.stop_event.is_set():
                return None
            time.sleep(0.2)

    def _prune(self, newest: int) -> None:
        """Retention: proof files and journal bulk of finished rounds older than the last
        `keep_rounds` (round `newest` just finished); unfinished rounds are never touched."""
        keep = self.config.keep_rounds
        cleared = self.journal.prune(keep, self.config.keep_journal_rows)
        unfinished = {r.id for r in self.journal.unfinished()}
        proofs = self.artifacts.root / "proofs"
        for d in proofs.glob("round-*") if proofs.is_dir() else []:
            rid = d.name.removeprefix("round-")
            if rid.isdigit() and int(rid) <= newest - keep and int(rid) not in unfinished:
                shutil.rmtree(d, ignore_errors=True)
        if cleared:
            log.info("retention: cleared %d old rounds (keeping the last %d)", cleared, keep)
        self.metrics.set("proofcast_disk_bytes", self.disk_bytes())

    def disk_bytes(self) -> int:
        """Bytes of the journal and the round proof files."""
        proofs = self.artifacts.root / "proofs"
        files = proofs.rglob("*") if proofs.is_dir() else []
        return self.journal.size_bytes() + sum(f.stat().st_size for f in files if f.is_file())

    def _reverted(self, rnd: Round, error: str, where: str, **fields: Any) -> Round:
        log.error(
            "round %d rejected by %s (%s): %s", rnd.id, self.config.oracle_address, where, error
        )
        self.metrics.inc("proofcast_errors_total", kind="revert")
        return self._end(rnd, J.REVERTED, error=error, **fields)

    def _end(self, rnd: Round, state: str, **fields: Any) -> Round:
        if state == J.ABANDONED:
            log.warning("round %d abandoned: %s", rnd.id, fields.get("error"))
        self.metrics.inc("proofcast_rounds_total", state=state)
        done = self.journal.advance(rnd.id, state, **fields)
        self._prune(rnd.id)
        return done


def _release_memory() -> None:
    """Hand freed heap pages back to the OS after a proof (glibc keeps them otherwise, and a
    long-running node's RSS would creep with every proof's buffers)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


def _tx_fields(raw_tx: str) -> dict[str, Any]:
    """Fields of a signed type-2 transaction (a replacement keeps its gas limit)."""
    from eth_account.typed_transactions import TypedTransaction
    from hexbytes import HexBytes

    return dict(TypedTransaction.from_bytes(HexBytes(raw_tx)).as_dict())


def _round_bars(rnd: Round) -> list[Any]:
    """Per feed: the journaled bars when the feed is in the round, else None."""
    bars = rnd.bars or [None] * len(rnd.feeds)
    return [b if d else None for b, d in zip(bars, rnd.due, strict=True)]
