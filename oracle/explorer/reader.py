"""Everything the explorer shows, read from the chain (RiskOracle events and views) and local
files (federated round manifests, the node journal) into one JSON-ready `Snapshot`.

Contract data is read through the ABI by name (event arguments, view outputs and struct fields),
so a reordered struct or an added field does not shift what is shown. Nothing here signs or
sends a transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from federated.manifest import metrics_hash
from oracle.attest.report import recover_signer
from oracle.chain.contracts import (
    ADAPTER_CONTRACT,
    ORACLE_CONTRACT,
    ZONES,
    SlotReport,
    compile_oracle_contracts,
    decode_history,
    require_risk_oracle,
    to_feed_units,
)
from oracle.errors import ChainError

ZERO_ADDRESS = "0x" + "00" * 20


# ------------------------------------------------------------------------------ the snapshot


@dataclass
class OutputView:
    """One output of a feed (its own Chainlink adapter) as a consumer reads it."""

    index: int
    name: str
    adapter: str | None
    answer: str | None  # consumer units, exact (answer / 10**decimals)
    answer_raw: int | None  # what the raw adapter's latestRoundData returns
    min_answer: str
    max_answer: str
    max_delta: str
    max_window_delta: str
    kind: str | None = None  # LOG_VOL | VAR | None (an output the explorer cannot interpret)
    unit: str = ""  # what `answer` is, e.g. "ln(daily vol %)"
    human: str = ""  # the answer as a person reads it ("" when `kind` is None or no data)
    daily_vol_pct: float | None = None  # volatility outputs: exp(answer)
    annual_vol_pct: float | None = None  # daily x sqrt(TRADING_DAYS)


@dataclass
class HistoryPoint:
    """One round of a feed, from a `ReportAccepted` event."""

    round_id: int
    report_id: int
    observed_at: int
    accepted_at: int
    answers: list[float]  # consumer units, one per output
    human: list[float] = field(default_factory=list)  # per output, in `human_value` units


@dataclass
class BacktestDay:
    """One round of a feed after its first, as the VaR backtest sees it: the VaR the feed
    published the round before (in force for this bar) against the realised return this round's
    signed report carried (`submit` calldata), and what the oracle made of it (events)."""

    round_id: int
    observed_at: int  # close of the bar whose return this is
    var_pct: float | None  # the VaR in force (the feed's previous round), percent
    realized_pct: float | None  # log return of the bar over the one before, percent (None:
    # the report came through another contract, its calldata is not a `submit`)
    breached: bool  # VaRBreached for this round
    gap: bool  # BacktestGap for this round: a missed day, not scored


@dataclass
class FeedBacktest:
    """`RiskOracle.backtest(feedId)` and the days behind it."""

    scored_days: int  # in the last 250
    breaches: int  # among them
    zone: str  # green | yellow | red
    lifetime_scored_days: int
    lifetime_breaches: int
    gaps: int
    days: list[BacktestDay]


@dataclass
class FeedView:
    id: str
    name: str
    description: str
    index: int
    decimals: int
    enabled: bool
    max_age: int
    min_delay: int
    window: int
    heartbeat: int
    round_id: int
    report_id: int
    slot: int
    observed_at: int
    accepted_at: int
    age: int | None
    stale: bool
    outputs: list[OutputView]
    history: list[HistoryPoint]
    backtest: FeedBacktest | None = None  # None: the oracle backtests no output
    var_output: int | None = None  # which output is the 99 % VaR (the backtested one)
    freshness_rule: str = "maxAge"  # what `heartbeat` is: the feed's on-chain maxAge or the
    # explorer's --heartbeat
    model_hash: str | None = None  # the model that produced the latest round (its report's)
    signers: list[str] = field(default_factory=list)  # who signed the latest round's report
    feed_round: int = 0  # the feed's own round number (1, 2, ...): the adapters' roundId


@dataclass
class ReportView:
    report_id: int
    tx_hash: str
    block: int
    accepted_at: int
    gas_used: int
    proof_bytes: int | None  # None: the transaction was not a direct `submit` call
    calldata_bytes: int
    model_hash: str
    input_commitment: str
    transmitter: str
    config_version: int
    feeds: list[str]
    signers: list[str]  # recovered from the submitted signatures over `reportDigest`
    signers_in_event: list[str]  # the event's signer bitmap mapped to that config's attesters
    signers_match: bool


@dataclass
class ManifestLink:
    """The federated round manifest whose model hash is a registered model's."""

    path: str
    round: int
    participants: list[str]
    failures: int
    aggregation: str
    secagg: bool
    dp: dict[str, float | None]
    metrics: dict[str, float]
    metrics_hash: str
    metrics_hash_matches: bool


@dataclass
class ModelView:
    hash: str
    round: int
    dp_epsilon: float | None  # user-level (a provider's whole data)
    record_epsilon: float | None  # record-level (one row), DP-SGD
    dp_delta: float | None
    metrics_hash: str
    activates_at: int
    registered_at: int
    registered_block: int
    retired: bool
    retired_at: int | None
    active: bool
    status: str  # active | pending | retired
    reports: int
    manifest: ManifestLink | None


@dataclass
class Rejection:
    """A node round that did not land, from the journal: reverted (the oracle refused it, with
    its custom error) or abandoned (never submitted: attesters, age, nonce)."""

    round: int
    state: str
    feeds: list[str]
    tx_hash: str | None
    block: int | None
    at: int
    error: str
    error_name: str
    error_args: str


@dataclass
class ChangeView:
    """A governed admin change (`ChangeQueued`), decoded, with what became of it."""

    id: str
    function: str  # the setter, e.g. "setAttesters"
    args: str  # its decoded arguments
    queued_at: int
    queued_block: int
    eta: int
    status: str  # queued (eta in the future) | ready (eta passed) | executed | cancelled
    closed_at: int | None  # when it was executed or cancelled
    tx_hash: str


@dataclass
class OracleInfo:
    address: str
    chain_id: int
    block: int
    block_time: int
    deploy_block: int
    verifier: str
    admin: str
    feeds_per_report: int
    outputs_per_feed: int
    output_scale: int
    threshold: int
    config_version: int
    attesters: list[str]
    permissionless: bool
    report_count: int
    governance_delay: int = 0
    changes: list[ChangeView] = field(default_factory=list)  # newest first


@dataclass
class Snapshot:
    oracle: OracleInfo
    feeds: list[FeedView]
    reports: list[ReportView]
    models: list[ModelView]
    rejections: list[Rejection]
    journal: str | None
    federated: str | None
    generated_at: int = field(default=0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ helpers


def units(value: int, decimals: int) -> str:
    """`value` / 10**decimals as an exact decimal string (how consumers read an answer)."""
    return f"{Decimal(value).scaleb(-decimals):f}"


def utc(timestamp: int | None) -> str:
    """A unix time as `YYYY-MM-DD HH:MM:SS UTC` ("" for none)."""
    if not timestamp:
        return ""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: int | None) -> str:
    """A short human duration: 3d 4h, 2h 5m, 40s."""
    if seconds is None:
        return ""
    sign, s = ("-", -seconds) if seconds < 0 else ("", seconds)
    d, rem = divmod(s, 86_400)
    h, rem = divmod(rem, 3_600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{sign}{d}d {h}h"
    if h:
        return f"{sign}{h}h {m}m"
    return f"{sign}{m}m {sec}s" if m else f"{sign}{sec}s"


# What Proofcast's two outputs are on chain (models.oracle_model.OUTPUT_NAMES): the log of
# tomorrow's daily volatility in percent, and the 1-day 99 % VaR in percent (the backtested one).
LOG_VOL, VAR = "log_vol_pct", "var99_pct"
TRADING_DAYS = 252  # annualising a daily volatility: x sqrt(252)
UNITS = {LOG_VOL: "ln(daily vol %)", VAR: "% (1-day loss at 99 %)"}
AXIS_TITLES = {LOG_VOL: "volatility, daily %", VAR: "VaR 99 %, 1-day loss %"}


def output_kinds(outputs: int, var_output: int | None) -> list[str | None]:
    """Which output is what: with the oracle's backtested `varOutput` in a two-output layout,
    that one is the VaR and the other the log volatility; otherwise nothing is interpreted."""
    if var_output is None or outputs != 2 or not 0 <= var_output < outputs:
        return [None] * outputs
    return [VAR if j == var_output else LOG_VOL for j in range(outputs)]


def human_value(kind: str | None, raw: float) -> float:
    """The oracle's raw answer (consumer units) in the unit a person reads and the charts plot:
    a volatility as daily % (exp of the log), a VaR and anything else unchanged. The one place
    the raw-to-human conversion lives: read the oracle's value, not an adapter's, so this holds
    whatever unit an adapter publishes."""
    if kind == LOG_VOL:
        return math.exp(raw)
    return raw


def annualised(daily_pct: float) -> float:
    return daily_pct * math.sqrt(TRADING_DAYS)


def describe(kind: str | None, raw: float) -> str:
    """`human_value` as text: "1.23 % daily · 19.5 % annualised volatility"."""
    if kind == LOG_VOL:
        daily = human_value(kind, raw)
        return f"{daily:.2f} % daily · {annualised(daily):.1f} % annualised volatility"
    if kind == VAR:
        return f"{raw:.2f} % 1-day loss at 99 %"
    return ""


def metrics_hash_hex(metrics: dict[str, float]) -> str:
    """The manifest metrics' on-chain hash (`federated.manifest.metrics_hash`) as 0x-hex."""
    return "0x" + metrics_hash(metrics).hex()


def _hex32(value: Any) -> str:
    if isinstance(value, int):
        return f"0x{value:064x}"
    return "0x" + bytes(value).hex()


def _named(outputs: list[dict[str, Any]], value: Any) -> Any:
    """A call result with the ABI's names: a dict for several outputs or a struct."""

    def one(spec: dict[str, Any], v: Any) -> Any:
        if spec["type"] == "tuple":
            if isinstance(v, dict):
                return dict(v)
            return {c["name"]: one(c, x) for c, x in zip(spec["components"], v, strict=True)}
        return v

    if len(outputs) == 1:
        return one(outputs[0], value)
    return {
        o["name"] or f"_{i}": one(o, v) for i, (o, v) in enumerate(zip(outputs, value, strict=True))
    }


def _format_value(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_format_value(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)


def _parse_error(error: str) -> tuple[str, str]:
    """`Name(args)` -> (Name, args); other text -> ("", text)."""
    match = re.fullmatch(r"\s*([A-Z]\w*)\((.*)\)\s*", error or "", flags=re.S)
    return (match.group(1), match.group(2)) if match else ("", error or "")


def _address(value: str, what: str) -> str:
    try:
        return Web3.to_checksum_address(value)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"{what} {value!r} is not an address") from exc


def connect_readonly(rpc_url: str) -> Web3:
    """A keyless Web3 on `rpc_url` (raises ChainError when unreachable)."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    try:
        w3.eth.chain_id  # noqa: B018 (reachability check)
    except Exception as exc:
        raise ChainError(f"cannot reach RPC {rpc_url}: {exc}") from exc
    return w3


# ------------------------------------------------------------------------------ the reader


@dataclass(frozen=True)
class _TxFacts:
    gas_used: int
    proof_bytes: int | None
    calldata_bytes: int
    signers: tuple[str, ...]


class ExplorerReader:
    """Reads one RiskOracle (and optional local files) into a `Snapshot`; holds no key.

    Immutable per-report facts (gas, calldata, recovered signers) and discovered adapters are
    cached, so a refresh costs a handful of view calls and one `eth_getLogs` per event."""

    def __init__(
        self,
        w3: Web3,
        oracle: str,
        *,
        federated: Path | None = None,
        journal: Path | None = None,
        heartbeat: int | None = None,
        adapters: list[str] | None = None,
        from_block: int = 0,
    ) -> None:
        self.w3 = w3
        self.address = _address(oracle, "oracle")
        compiled = compile_oracle_contracts()
        self.oracle: Contract = w3.eth.contract(
            address=self.address, abi=compiled[ORACLE_CONTRACT].abi
        )
        self._adapter_abi = compiled[ADAPTER_CONTRACT].abi
        require_risk_oracle(w3, self.address)
        self.federated = Path(federated) if federated else None
        self.journal = Path(journal) if journal else None
        self.heartbeat = heartbeat
        self.from_block = from_block
        self._explicit_adapters = [_address(a, "adapter") for a in adapters or []]
        self._adapters: dict[tuple[str, int], tuple[str, str]] = {}  # (feed, j) -> (addr, desc)
        self._adapter_cache: dict[str, tuple[str, int, str] | None] = {}
        self._deploy_block: int | None = None
        self._tx_cache: dict[str, _TxFacts] = {}
        self._outcome_cache: dict[str, dict[bytes, tuple[int, int]]] = {}
        self._lock = threading.Lock()

    # -- low level

    def _fn_outputs(self, name: str) -> list[dict[str, Any]]:
        for item in self.oracle.abi:
            if item.get("type") == "function" and item["name"] == name:
                return item["outputs"]
        raise ChainError(f"{ORACLE_CONTRACT} ABI has no function {name}")

    def view(self, name: str, *args: Any, block: int | str = "latest") -> Any:
        """A RiskOracle view by name, its result named after the ABI's outputs."""
        value = getattr(self.oracle.functions, name)(*args).call(block_identifier=block)
        return _named(self._fn_outputs(name), value)

    def logs(self, event: str, to_block: int) -> list[Any]:
        """Every `event` of the oracle from its deployment to `to_block`, in chain order."""
        found = getattr(self.oracle.events, event)().get_logs(
            from_block=self.deploy_block(), to_block=to_block
        )
        return sorted(found, key=lambda e: (e["blockNumber"], e["logIndex"]))

    def deploy_block(self) -> int:
        """The oracle's deployment block (its constructor emits AdminTransferred(0, admin))."""
        if self._deploy_block is None:
            first = self.oracle.events.AdminTransferred().get_logs(
                from_block=self.from_block, to_block="latest"
            )
            births = [e for e in first if e["args"]["previousAdmin"] == ZERO_ADDRESS]
            self._deploy_block = min((e["blockNumber"] for e in births), default=self.from_block)
        return self._deploy_block

    def _block_time(self, number: int, cache: dict[int, int]) -> int:
        if number not in cache:
            cache[number] = int(self.w3.eth.get_block(number)["timestamp"])
        return cache[number]

    # -- adapters

    def _adapter_facts(self, address: str) -> tuple[str, int, str] | None:
        """(feed id hex, output, description) of a RiskFeedAdapter of this oracle, else None."""
        adapter = self.w3.eth.contract(address=address, abi=self._adapter_abi)
        try:
            if Web3.to_checksum_address(adapter.functions.oracle().call()) != self.address:
                return None
            return (
                _hex32(adapter.functions.feedId().call()),
                int(adapter.functions.outputIndex().call()),
                str(adapter.functions.description().call()),
            )
        except Exception:  # not an adapter: no such function, a revert, an undecodable answer
            return None

    def adapters(self, latest: int) -> dict[tuple[str, int], tuple[str, str]]:
        """Adapters of this oracle: the `--adapter` addresses, else those its admin registered
        (`adapterOf`, keys from the `AdapterSet` events). A contract that merely claims to be an
        adapter of this oracle is never shown; nor is a registered one whose own `feedId` and
        `outputIndex` contradict its registry entry."""
        if self._explicit_adapters:
            if not self._adapters:
                for address in self._explicit_adapters:
                    facts = self._adapter_facts(address)
                    if facts is None:
                        raise ChainError(f"{address} is not a RiskFeedAdapter of {self.address}")
                    self._adapters[(facts[0], facts[1])] = (address, facts[2])
            return self._adapters
        found: dict[tuple[str, int], tuple[str, str]] = {}
        keys = {(_hex32(e["args"]["feedId"]), int(e["args"]["output"]))
                for e in self.logs("AdapterSet", latest)}  # fmt: skip
        for fid, j in sorted(keys):
            address = self.view("adapterOf", bytes.fromhex(fid[2:]), j, block=latest)
            if address == ZERO_ADDRESS:
                continue
            if address not in self._adapter_cache:  # an adapter's facts are immutable
                self._adapter_cache[address] = self._adapter_facts(address)
            facts = self._adapter_cache[address]
            if facts is not None and (facts[0], facts[1]) == (fid, j):
                found[(fid, j)] = (address, facts[2])
        return found

    # -- governance

    def _changes(self, block: int, now: int, times: dict[int, int]) -> list[ChangeView]:
        """Every queued governed change, newest first: decoded from its `ChangeQueued` event,
        closed by the next `ChangeExecuted` or `ChangeCancelled` of the same id."""
        events = [
            (e["blockNumber"], e["logIndex"], kind, e)
            for kind in ("ChangeQueued", "ChangeExecuted", "ChangeCancelled")
            for e in self.logs(kind, block)
        ]
        open_: dict[str, ChangeView] = {}
        changes: list[ChangeView] = []
        for number, _index, kind, e in sorted(events, key=lambda x: (x[0], x[1])):
            cid = _hex32(e["args"]["id"])
            if kind == "ChangeQueued":
                call = bytes(e["args"]["call"])
                try:
                    fn, args = self.oracle.decode_function_input(call)
                    name, shown = fn.fn_name, _format_value(dict(args))
                except ValueError:
                    name, shown = "unknown", "0x" + call.hex()
                eta = int(e["args"]["eta"])
                change = ChangeView(
                    id=cid,
                    function=name,
                    args=shown,
                    queued_at=self._block_time(int(number), times),
                    queued_block=int(number),
                    eta=eta,
                    status="ready" if eta <= now else "queued",
                    closed_at=None,
                    tx_hash="0x" + bytes(e["transactionHash"]).hex(),
                )
                open_[cid] = change
                changes.append(change)
            elif cid in open_:
                change = open_.pop(cid)
                change.status = "executed" if kind == "ChangeExecuted" else "cancelled"
                change.closed_at = self._block_time(int(number), times)
        return changes[::-1]

    # -- reports

    def _tx_facts(self, tx_hash: str, chain_id: int) -> _TxFacts:
        if tx_hash in self._tx_cache:
            return self._tx_cache[tx_hash]
        tx = self.w3.eth.get_transaction(tx_hash)
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        data = bytes(tx["input"])
        proof_bytes, signers = None, ()
        try:
            fn, args = self.oracle.decode_function_input(data)
        except ValueError:  # not a direct submit (e.g. through a multicall)
            fn, args = None, {}
        if fn is not None and fn.fn_name == "submit":
            report = args["report"]
            if not isinstance(report, dict):
                names = [c["name"] for c in fn.abi["inputs"][0]["components"]]
                report = dict(zip(names, report, strict=True))
            slot_report = SlotReport(
                int(report["configVersion"]),
                tuple(bytes(f) for f in report["feedIds"]),
                tuple(int(t) for t in report["observedAt"]),
                int(report["validUntil"]),
                tuple(int(t) for t in report["previousObservedAt"]),
                tuple(int(r) for r in report["realizedReturn"]),
            )
            commitment = int(args["instances"][0])
            proof_bytes = len(args["proof"])
            signers = tuple(
                recover_signer(chain_id, self.address, slot_report, commitment, bytes(sig))
                for sig in args["signatures"]
            )
        facts = _TxFacts(int(receipt["gasUsed"]), proof_bytes, len(data), signers)
        self._tx_cache[tx_hash] = facts
        return facts

    # -- the snapshot

    def snapshot(self) -> Snapshot:
        """Read everything once, consistently at the latest block."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> Snapshot:
        w3 = self.w3
        latest = w3.eth.get_block("latest")
        block, now = int(latest["number"]), int(latest["timestamp"])
        chain_id = int(w3.eth.chain_id)
        at = {"block": block}
        outputs = int(self.view("outputsPerFeed", **at))
        scale = int(self.view("outputScale", **at))
        times: dict[int, int] = {block: now}

        attester_sets = {
            int(e["args"]["configVersion"]): list(e["args"]["attesters"])
            for e in self.logs("AttestersSet", block)
        }
        info = OracleInfo(
            address=self.address,
            chain_id=chain_id,
            block=block,
            block_time=now,
            deploy_block=self.deploy_block(),
            verifier=self.view("verifier", **at),
            admin=self.view("admin", **at),
            feeds_per_report=int(self.view("feedsPerReport", **at)),
            outputs_per_feed=outputs,
            output_scale=scale,
            threshold=int(self.view("threshold", **at)),
            config_version=int(self.view("configVersion", **at)),
            attesters=list(self.view("attesters", **at)),
            permissionless=bool(self.view("permissionless", **at)),
            report_count=int(self.view("reportCount", **at)),
            governance_delay=int(self.view("governanceDelay", **at)),
            changes=self._changes(block, now, times),
        )

        # Feeds: configuration events name them; views give their current state.
        configured: dict[str, dict[str, Any]] = {}
        for e in self.logs("FeedConfigured", block):
            configured[_hex32(e["args"]["feedId"])] = dict(e["args"])
        names = self._journal_feed_names()
        scored = int(self.view("varOutput", **at))
        var_output = scored if scored < outputs else None  # NO_BACKTEST: no output is a VaR
        kinds = output_kinds(outputs, var_output)
        by_index: dict[int, str] = {}
        feeds: dict[str, FeedView] = {}
        adapters = self.adapters(block)
        for fid, event in configured.items():
            key = bytes.fromhex(fid[2:])
            config = self.view("feeds", key, **at)
            decimals = int(config["decimals"])
            by_index[int(config["index"])] = fid
            state = self.view("feedState", key, **at)
            round_id = int(self.view("latestRoundId", key, **at))
            observed = int(state["observedAt"]) if round_id else 0
            heartbeat = self.heartbeat or int(config["maxAge"])
            age = now - observed if round_id else None
            # The latest round's answers in feed units (the raw adapters' latestRoundData).
            latest = self.view("feedRound", key, 0, **at)["answers"] if round_id else None
            views = []
            for j in range(outputs):
                limits = self.view("limits", key, j, **at)
                answer_raw = None if latest is None else int(latest[j])
                adapter = adapters.get((fid, j))
                raw = None if answer_raw is None else answer_raw / 10**decimals
                daily = None if raw is None or kinds[j] != LOG_VOL else human_value(LOG_VOL, raw)
                views.append(
                    OutputView(
                        index=j,
                        name=adapter[1] if adapter else f"output {j}",
                        adapter=adapter[0] if adapter else None,
                        answer=None if answer_raw is None else units(answer_raw, decimals),
                        answer_raw=answer_raw,
                        kind=kinds[j],
                        unit=UNITS.get(kinds[j] or "", ""),
                        human="" if raw is None else describe(kinds[j], raw),
                        daily_vol_pct=daily,
                        annual_vol_pct=None if daily is None else annualised(daily),
                        **{
                            name: units(to_feed_units(int(limits[src]), scale, decimals), decimals)
                            for name, src in (
                                ("min_answer", "minAnswer"),
                                ("max_answer", "maxAnswer"),
                                ("max_delta", "maxDelta"),
                                ("max_window_delta", "maxWindowDelta"),
                            )
                        },
                    )
                )
            description = str(event.get("description") or self.view("feedDescription", key, **at))
            feeds[fid] = FeedView(
                id=fid,
                name=names.get(fid, description),
                description=description,
                index=int(config["index"]),
                decimals=decimals,
                enabled=bool(config["enabled"]),
                max_age=int(config["maxAge"]),
                min_delay=int(config["minDelay"]),
                window=int(config["window"]),
                heartbeat=heartbeat,
                round_id=round_id,
                feed_round=int(state["rounds"]),
                report_id=round_id >> 8,
                slot=round_id & 0xFF,
                observed_at=observed,
                accepted_at=int(state["acceptedAt"]) if round_id else 0,
                age=age,
                stale=age is None or age > heartbeat,
                outputs=views,
                history=[],
                var_output=var_output,
                freshness_rule="--heartbeat" if self.heartbeat else "maxAge",
            )

        # Reports: one ReportAccepted event each; its history blob holds every round.
        reports, per_model = [], {}
        for e in self.logs("ReportAccepted", block):
            args = e["args"]
            report_id = int(args["reportId"])
            history = args.get("history")
            if history is None:
                history = self.view("reportOf", report_id, **at)["history"]
            history = bytes(history)
            accepted_at = self._block_time(int(e["blockNumber"]), times)
            tx_hash = "0x" + bytes(e["transactionHash"]).hex()
            facts = self._tx_facts(tx_hash, chain_id)
            version = int(args["configVersion"])
            members = attester_sets.get(version, [])
            bitmap = int(args["signers"])
            in_event = [a for i, a in enumerate(members) if bitmap >> i & 1]
            model = _hex32(args["modelHash"])
            updated = []
            for record in decode_history(history, outputs):
                fid = by_index.get(record.feed_index)
                if fid is None:
                    continue
                feed = feeds[fid]
                updated.append(feed.name)
                feed.model_hash = model  # reports in chain order: the latest one stays
                feed.signers = [Web3.to_checksum_address(a) for a in (
                    facts.signers if facts.proof_bytes is not None else in_event)]  # fmt: skip
                answers = [to_feed_units(a, scale, feed.decimals) / 10**feed.decimals
                           for a in record.answers]  # fmt: skip
                feed.history.append(
                    HistoryPoint(
                        round_id=report_id << 8 | record.slot,
                        report_id=report_id,
                        observed_at=record.observed_at,
                        accepted_at=accepted_at,
                        answers=answers,
                        human=[human_value(kinds[j], a) for j, a in enumerate(answers)],
                    )
                )
            per_model[model] = per_model.get(model, 0) + 1
            reports.append(
                ReportView(
                    report_id=report_id,
                    tx_hash=tx_hash,
                    block=int(e["blockNumber"]),
                    accepted_at=accepted_at,
                    gas_used=facts.gas_used,
                    proof_bytes=facts.proof_bytes,
                    calldata_bytes=facts.calldata_bytes,
                    model_hash=model,
                    input_commitment=_hex32(history[:32]),
                    transmitter=str(args["transmitter"]),
                    config_version=version,
                    feeds=updated,
                    signers=list(facts.signers),
                    signers_in_event=in_event,
                    signers_match=(
                        facts.proof_bytes is None
                        or sorted(map(str.lower, facts.signers)) == sorted(map(str.lower, in_event))
                    ),
                )
            )
        reports.reverse()  # newest first

        # Models: registry events, current state from `models` / `isActive`.
        retired_at = {
            _hex32(e["args"]["modelHash"]): self._block_time(int(e["blockNumber"]), times)
            for e in self.logs("ModelRetired", block)
        }
        manifests = self._manifests()
        models = []
        for e in self.logs("ModelRegistered", block):
            args = e["args"]
            mhash = _hex32(args["modelHash"])
            key = bytes.fromhex(mhash[2:])
            stored = self.view("models", key, **at)
            active = bool(self.view("isActive", key, **at))
            retired = bool(stored["retired"])
            eps_milli = int(args["dpEpsilonMilli"])
            record_milli, delta_exp = int(args["recordEpsilonMilli"]), int(args["deltaExponent"])
            link = manifests.get(mhash)
            metrics = _hex32(args["metricsHash"])
            if link is not None:
                link = replace(link, metrics_hash_matches=link.metrics_hash == metrics)
            models.append(
                ModelView(
                    hash=mhash,
                    round=int(args["round"]),
                    dp_epsilon=eps_milli / 1000 if eps_milli else None,
                    record_epsilon=record_milli / 1000 if record_milli else None,
                    dp_delta=10.0**-delta_exp if delta_exp else None,
                    metrics_hash=metrics,
                    activates_at=int(args["activatesAt"]),
                    registered_at=self._block_time(int(e["blockNumber"]), times),
                    registered_block=int(e["blockNumber"]),
                    retired=retired,
                    retired_at=retired_at.get(mhash),
                    active=active,
                    status="retired" if retired else ("active" if active else "pending"),
                    reports=per_model.get(mhash, 0),
                    manifest=link,
                )
            )

        self._attach_backtests(list(feeds.values()), reports, chain_id, scale, block)
        return Snapshot(
            oracle=info,
            feeds=sorted(feeds.values(), key=lambda f: f.index),
            reports=reports,
            models=models,
            rejections=self._rejections(),
            journal=str(self.journal) if self.journal else None,
            federated=str(self.federated) if self.federated else None,
            generated_at=now,
        )

    # -- the VaR backtest

    def _report_outcomes(self, tx_hash: str) -> dict[bytes, tuple[int, int]]:
        """Per feed id in a `submit` call's report: (slot, realised return in fixed point);
        empty when the transaction was not a direct `submit`."""
        key = "outcomes:" + tx_hash
        if key not in self._outcome_cache:
            data = bytes(self.w3.eth.get_transaction(tx_hash)["input"])
            try:
                fn, args = self.oracle.decode_function_input(data)
            except ValueError:
                fn, args = None, {}
            out: dict[bytes, tuple[int, int]] = {}
            if fn is not None and fn.fn_name == "submit":
                report = args["report"]
                if not isinstance(report, dict):
                    names = [c["name"] for c in fn.abi["inputs"][0]["components"]]
                    report = dict(zip(names, report, strict=True))
                for slot, (fid, realized) in enumerate(
                    zip(report["feedIds"], report["realizedReturn"], strict=True)
                ):
                    out[bytes(fid)] = (slot, int(realized))
            self._outcome_cache[key] = out
        return self._outcome_cache[key]

    def _attach_backtests(
        self, feeds: list[FeedView], reports: list[ReportView], chain_id: int, scale: int,
        block: int,
    ) -> None:  # fmt: skip
        """Each feed's `backtest()` and its days: VaRs from the rounds (ReportAccepted), realised
        returns from the reports' calldata, breaches and gaps from VaRBreached / BacktestGap."""
        var_output = feeds[0].var_output if feeds else None
        if var_output is None:
            return  # NO_BACKTEST: this oracle scores no output
        breached = {int(e["args"]["roundId"]) for e in self.logs("VaRBreached", block)}
        gaps = {int(e["args"]["roundId"]) for e in self.logs("BacktestGap", block)}
        tx_of = {r.report_id: r.tx_hash for r in reports}
        for feed in feeds:
            key = bytes.fromhex(feed.id[2:])
            ledger = self.view("backtest", key, block=block)
            days = []
            previous_var = None
            for point in feed.history:
                outcome = self._report_outcomes(tx_of[point.report_id]).get(key)
                if previous_var is not None or point.round_id in gaps:
                    days.append(
                        BacktestDay(
                            round_id=point.round_id,
                            observed_at=point.observed_at,
                            var_pct=previous_var,
                            realized_pct=outcome[1] / 2**scale if outcome else None,
                            breached=point.round_id in breached,
                            gap=point.round_id in gaps,
                        )
                    )
                previous_var = point.answers[var_output]
            feed.backtest = FeedBacktest(
                scored_days=int(ledger["scoredDays"]),
                breaches=int(ledger["breaches"]),
                zone=ZONES[int(ledger["zone"])],
                lifetime_scored_days=int(ledger["lifetimeScoredDays"]),
                lifetime_breaches=int(ledger["lifetimeBreaches"]),
                gaps=int(ledger["gaps"]),
                days=days,
            )

    # -- local files

    def _journal_rounds(self) -> list[Any]:
        if self.journal is None or not self.journal.is_file():
            return []
        from oracle.node.journal import Journal

        with Journal(self.journal) as journal:
            return journal.rounds()

    def _journal_feed_names(self) -> dict[str, str]:
        """Feed names the node publishes, by on-chain id (keccak256 of the name)."""
        names = {}
        for rnd in self._journal_rounds()[-1:]:
            for name in rnd.feeds:
                names["0x" + keccak(text=name).hex()] = name
        return names

    def _rejections(self) -> list[Rejection]:
        from oracle.node.journal import ABANDONED, REVERTED
        from oracle.node.publisher import format_revert

        out = []
        for rnd in self._journal_rounds():
            if rnd.state not in (REVERTED, ABANDONED):
                continue
            error = rnd.error or ""
            raw = re.fullmatch(r"unknown error (0x[0-9a-fA-F]+)", error)
            if raw:  # decode again with the current ABI (an error added since the node ran)
                error = format_revert(bytes.fromhex(raw.group(1)[2:]))
            name, args = _parse_error(error)
            out.append(
                Rejection(
                    round=rnd.id,
                    state=rnd.state,
                    feeds=[f for f in rnd.slots if f],
                    tx_hash=rnd.tx_hash,
                    block=rnd.block_number,
                    at=int(rnd.updated_at),
                    error=error,
                    error_name=name,
                    error_args=args,
                )
            )
        return list(reversed(out))

    def _manifests(self) -> dict[str, ManifestLink]:
        """Federated round manifests under `--federated`, by every model hash they name."""
        if self.federated is None or not self.federated.is_dir():
            return {}
        from federated.manifest import load_manifest

        found: dict[str, ManifestLink] = {}
        for directory in sorted(self.federated.glob("round-*")):
            number = directory.name.removeprefix("round-")
            if not number.isdigit() or not (directory / "manifest.json").is_file():
                continue
            manifest = load_manifest(self.federated, int(number))
            link = ManifestLink(
                path=str(directory / "manifest.json"),
                round=manifest.round,
                participants=list(manifest.participants),
                failures=manifest.failures,
                aggregation=manifest.aggregation,
                secagg=manifest.secagg,
                dp=dict(manifest.dp),
                metrics=dict(manifest.metrics),
                metrics_hash=metrics_hash_hex(manifest.metrics),
                metrics_hash_matches=False,
            )
            for mhash in [manifest.oracle_model_hash, *manifest.model_hashes.values()]:
                if mhash:
                    found[mhash.lower()] = link
        return found
