"""`proofcast bench node --soak DAYS`: a real node process through DAYS simulated days, with faults.

Real pieces only: bundled daily bars re-dated onto consecutive days and appended one per
simulated day, the shared features, a small MLP compiled with EZKL (K feeds per proof), anvil
(its clock warped to each bar's close), RiskOracle, three attesters (threshold 2) reading the same
files, and `proofcast node run` as a separate process talking to anvil through a TCP proxy.

Each day one fault may be injected (seeded): the RPC down or stalled for a few seconds, kill -9 of
the node at a random step (`PROOFCAST_CRASH_AT`), a base-fee spike right after signing (the
restarted node must bump fees), a reverted submission (the transmitter briefly removed from the
allow-list), or a corrupt bar on one feed (fixed the next day by the data vendor). Counted:
rounds due (every feed, every day: the heartbeat is one day) against rounds on chain, rounds lost
(due, not excused by an injected data or revert fault, and not on chain), duplicated (two
on-chain rounds for one feed and observation), staleness (gaps between a feed's on-chain
updates, in chain time), proof times, the node's RSS and its disk use.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account

from models.data import PriceSeries, load_bundled
from models.identity import model_hash
from oracle.attest.checks import CheckPolicy
from oracle.attest.local import LocalAttesters, attester_keys
from oracle.attest.report import close_time as bar_close_time
from oracle.chain.anvil import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, AnvilNode
from oracle.chain.client import connect
from oracle.chain.contracts import (
    FeedSpec,
    ModelSpec,
    OutputSpec,
    decode_history,
    deploy_oracle,
    feed_id,
    register_model,
    send,
)
from oracle.chain.verifier import deploy_verifier
from oracle.node.benchmark import BENCH_SERIES, bar_line, build_bench_circuit
from oracle.node.faults import DOWN, STALL, UP, FaultyProxy

FAULTS = ("rpc_down", "rpc_stall", "kill", "fee_spike", "revert", "corrupt_bar")
CRASH_POINTS = ("after_attest", "after_prove", "after_sign", "after_submit")
HISTORY = 60  # bars in each file before the first simulated day
DAY = 86_400
HEARTBEAT = DAY
PROOFCAST = [sys.executable, "-m", "oracle.cli"]


@dataclass
class SoakDay:
    """What one simulated day did."""

    day: int
    fault: str
    detail: str
    published: list[str]
    excused: list[str]  # feeds an injected data or revert fault kept off chain that day
    states: list[str]  # journal states of the day's rounds
    rss_bytes: int
    disk_bytes: int
    node_pid: int
    wall_seconds: float


@dataclass
class SoakReport:
    """The soak's figures (results/node_soak.{md,json})."""

    days: int
    feeds: int
    seed: int
    due: int
    published: int
    excused: int
    lost: int
    duplicated: int
    worst_staleness_s: float
    worst_staleness_unexcused_s: float
    staleness_target_s: float
    proof_seconds_p50: float
    proof_seconds_p95: float
    rss_first_bytes: int
    rss_last_bytes: int
    rss_growth_pct: float
    rss_median_growth_pct: float
    rss_max_bytes: int
    rss_segment_days: int
    disk_max_bytes: int
    keep_rounds: int
    fee_bumps: int
    faults: dict[str, int]
    wall_seconds: float
    day_log: list[SoakDay] = field(default_factory=list)
    staleness: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def redated(series: PriceSeries, start: np.datetime64, n: int) -> PriceSeries:
    """The last `n` bars of `series` on consecutive calendar days from `start` (daily calendar)."""
    cut = series.slice(len(series) - n, None)
    dates = start + np.arange(n).astype("timedelta64[D]")
    return PriceSeries(cut.name, dates, cut.open, cut.high, cut.low, cut.close, cut.volume)


def close_time(s: PriceSeries, i: int) -> int:
    """Close time of bar `i` (the oracle's observedAt for a forecast on it)."""
    return bar_close_time(s.slice(i, i + 1))


def plan_faults(days: int, seed: int, rate: float) -> list[str]:
    """Per day: "none" or one fault (seeded). Day 1 is clean (the first round); with at least
    len(FAULTS) + 1 days every fault occurs at least once, on random days; the other days get a
    random fault with probability `rate`."""
    rng = np.random.default_rng(seed)
    plan = ["none"] * days
    for d in range(1, days):
        if rng.random() < rate:
            plan[d] = str(rng.choice(FAULTS))
    if days > len(FAULTS):
        for fault, d in zip(FAULTS, rng.choice(np.arange(1, days), len(FAULTS), replace=False),
                            strict=True):  # fmt: skip
            plan[int(d)] = fault
    return plan


class NodeProcess:
    """`proofcast node run` as a separate process (key in the environment, logs to a file)."""

    def __init__(self, config: Path, key: str, log: Path) -> None:
        self.config, self.key, self.log = config, key, log
        self.proc: subprocess.Popen[bytes] | None = None

    def _env(self, crash_at: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PROOFCAST_CRASH_AT"}
        env["PROOFCAST_PRIVATE_KEY"] = self.key
        if crash_at:
            env["PROOFCAST_CRASH_AT"] = crash_at
        return env

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*PROOFCAST, "node", "run", "-c", str(self.config), "--json-logs"],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def run_crashing(self, crash_at: str, timeout: float = 300) -> int:
        """One `node run --once` that exits (137) at `crash_at`; returns its exit status."""
        with self.log.open("ab") as log:
            done = subprocess.run(
                [*PROOFCAST, "node", "run", "-c", str(self.config), "--once", "--json-logs"],
                env=self._env(crash_at),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        return done.returncode

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def rss_bytes(self) -> int:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


def journal_rounds(path: Path) -> list[dict[str, Any]]:
    """The node's journal, read-only (the node keeps writing it)."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT id, state, feeds, due, observed_at, prove_seconds, replaced FROM rounds"
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
    return [dict(r) for r in rows]


def dir_bytes(*paths: Path) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def run_soak(
    out: Path,
    workdir: Path,
    days: int = 30,
    feeds: int = 2,
    seed: int = 0,
    fault_rate: float = 0.4,
    plan: list[str] | None = None,
    keep_rounds: int = 5,
    progress: Callable[[str], None] = print,
) -> SoakReport:
    """Drive a node process through `days` simulated days; writes out/node_soak.{md,json,png}."""
    started = time.perf_counter()
    plan = plan or plan_faults(days, seed, fault_rate)
    days = len(plan)
    rng = np.random.default_rng(seed + 1)
    names = list(BENCH_SERIES[:feeds])
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    first_day = np.datetime64("today", "D") + np.timedelta64(2, "D")
    start = first_day - np.timedelta64(HISTORY, "D")
    series = [redated(load_bundled(n), start, HISTORY + days) for n in names]
    for s, n in zip(series, names, strict=True):
        header = "date,open,high,low,close,volume\n"
        (data / f"{n}.csv").write_text(header + "".join(bar_line(s, i) for i in range(HISTORY)))
    model, build = build_bench_circuit(workdir, names, progress)
    artifacts = build.artifacts
    journal = workdir / "journal.sqlite"
    for stale in (journal, journal.with_name(journal.name + "-wal")):
        stale.unlink(missing_ok=True)
    days_log: list[SoakDay] = []
    # per feed: (day, observedAt, acceptedAt) of each on-chain round
    accepted: dict[str, list[tuple[int, int, int]]] = {n: [] for n in names}
    with AnvilNode(log_path=workdir / "anvil.log") as anvil:
        w3 = connect(anvil.rpc_url, ANVIL_DEV_KEY, expected_chain_id=ANVIL_CHAIN_ID)
        verifier = deploy_verifier(w3, artifacts)
        wide = 10**15
        outputs = tuple(OutputSpec(o, -wide, wide, wide) for o in build.layout.output_names)
        specs = [FeedSpec(n, outputs, max_age=3 * DAY) for n in names]
        keys = attester_keys(3)
        stack = deploy_oracle(
            w3, verifier.address, build.layout, specs, [k.address for k in keys], 2
        )
        register_model(stack, ModelSpec(model_hash(model)))
        node_account = Account.create()
        node_key = "0x" + bytes(node_account.key).hex()
        send(w3, stack.oracle.functions.setTransmitter(node_account.address, True), "allow")
        fund = w3.eth.send_transaction({"to": node_account.address, "value": 10**20})
        w3.eth.wait_for_transaction_receipt(fund)

        def chain_now() -> float:
            return float(w3.eth.get_block("latest")["timestamp"])

        policy = CheckPolicy(ANVIL_CHAIN_ID, stack.oracle.address, feeds, build.input_scale)
        attesters = LocalAttesters([data] * 3, policy, names, calendar="daily", keys=keys)
        for checker in attesters.checkers:
            checker.clock = chain_now  # the attesters live in simulated time too
        proxy = FaultyProxy(anvil.port)
        config = workdir / "node.toml"
        urls = ", ".join(f'"{u}"' for u in attesters.urls)
        feed_lines = "".join(
            f'\n[[feeds]]\nname = "{n}"\nfile = "{n}.csv"\nheartbeat_seconds = {HEARTBEAT}\n'
            "deviation_bps = 50\nmax_move_sigmas = 0\n"
            for n in names
        )
        config.write_text(
            "[node]\n"
            f'rpc_url = "{proxy.url}"\nchain_id = {ANVIL_CHAIN_ID}\n'
            f'oracle_address = "{stack.oracle.address}"\ncircuit_dir = "circuit"\n'
            'journal = "journal.sqlite"\npoll_seconds = 0.5\nclock = "chain"\n'
            "confirm_timeout_seconds = 20\nbackoff_initial_seconds = 0.2\n"
            "backoff_max_seconds = 2\nrpc_timeout_seconds = 3\n"
            f"keep_rounds = {keep_rounds}\nkeep_journal_rows = {10 * keep_rounds}\n"
            f'attesters = [{urls}]\n\n[source]\ndirectory = "data"\ncalendar = "daily"\n'
            + feed_lines
        )
        node = NodeProcess(config, node_key, workdir / "node.log")
        fixed_line: tuple[Path, str, str] | None = None
        with attesters:
            try:
                node.start()
                for day, fault in enumerate(plan, start=1):
                    t0 = time.perf_counter()
                    i = HISTORY + day - 1
                    if fault in ("kill", "fee_spike"):
                        node.stop()  # so the day's round starts in the process that crashes
                    excused: list[str] = []
                    detail = ""
                    if fixed_line is not None:  # the vendor corrected yesterday's bad bar
                        path, bad, good = fixed_line
                        path.write_text(path.read_text().replace(bad, good))
                        fixed_line = None
                    for k, (s, n) in enumerate(zip(series, names, strict=True)):
                        line = bar_line(s, i)
                        if fault == "corrupt_bar" and k == 0:
                            bad = f"{s.dates[i]},{s.open[i]},{s.high[i]},{s.low[i]},nan,0\n"
                            fixed_line = (data / f"{n}.csv", bad, line)
                            line = bad
                            excused.append(n)
                            detail = f"{n} bar {s.dates[i]} close is NaN"
                        with (data / f"{n}.csv").open("a") as fh:
                            fh.write(line)
                    w3.provider.make_request(
                        "evm_setNextBlockTimestamp", [close_time(series[0], i) + 3600]
                    )
                    w3.provider.make_request("evm_mine", [])
                    if fault in ("rpc_down", "rpc_stall"):
                        proxy.set_mode(DOWN if fault == "rpc_down" else STALL)
                        threading.Timer(4.0, proxy.set_mode, args=(UP,)).start()
                        detail = "RPC refused for 4 s" if fault == "rpc_down" else "RPC stalled 4 s"
                    elif fault in ("kill", "fee_spike"):
                        point = (
                            "after_sign" if fault == "fee_spike" else str(rng.choice(CRASH_POINTS))
                        )
                        status = node.run_crashing(point)
                        detail = f"kill -9 at {point} (exit {status})"
                        if fault == "fee_spike":
                            w3.provider.make_request(
                                "anvil_setNextBlockBaseFeePerGas", [hex(200 * 10**9)]
                            )
                            detail += ", next base fee 200 gwei"
                        node.start()
                    elif fault == "revert":
                        fn = stack.oracle.functions.setTransmitter(node_account.address, False)
                        send(w3, fn, "disallow")
                        excused = list(names)
                        detail = "transmitter removed from the allow-list for the day's round"
                    target = close_time(series[0], i)
                    states = wait_for_day(journal, target, names, excused, timeout=240)
                    if fault == "revert":
                        fn = stack.oracle.functions.setTransmitter(node_account.address, True)
                        send(w3, fn, "allow")
                    published = []
                    for n in names:
                        st = stack.oracle.functions.feedState(feed_id(n)).call()
                        if (
                            st[0] != 0
                            and int(st[1]) == target
                            and (not accepted[n] or accepted[n][-1][1] != target)
                        ):
                            accepted[n].append((day, int(st[1]), int(st[2])))
                            published.append(n)
                    rss = node.rss_bytes()
                    disk = dir_bytes(journal, journal.with_name(journal.name + "-wal"),
                                     artifacts.root / "proofs")  # fmt: skip
                    days_log.append(
                        SoakDay(
                            day,
                            fault,
                            detail,
                            published,
                            excused,
                            states,
                            rss,
                            disk,
                            node.pid,
                            time.perf_counter() - t0,
                        )
                    )
                    progress(
                        f"soak day {day}/{days}: {fault} {detail} -> published "
                        f"{', '.join(published) or 'nothing'}; rss {rss / 2**20:.0f} MiB, "
                        f"disk {disk / 2**20:.1f} MiB"
                    )
            finally:
                node.stop()
                proxy.close()
        duplicated = count_duplicates(stack, feeds, build.layout.outputs_per_feed)
    report = summarise(
        days_log, names, accepted, journal, duplicated, seed, keep_rounds,
        time.perf_counter() - started,
    )  # fmt: skip
    write_soak_results(out, report)
    return report


def wait_for_day(
    journal: Path, target: int, names: list[str], excused: list[str], timeout: float
) -> list[str]:
    """Wait until the node finished (confirmed, reverted or abandoned) a round carrying the
    day's observation of every feed not excused; returns the states of the day's rounds."""
    deadline = time.monotonic() + timeout
    expect = [n for n in names if n not in excused] or names
    while True:
        rounds = [r for r in journal_rounds(journal) if target in json.loads(r["observed_at"])]
        done = [r for r in rounds if r["state"] in ("confirmed", "reverted", "abandoned")]
        covered = set()
        for r in done:
            feeds, due = json.loads(r["feeds"]), json.loads(r["due"])
            covered |= {f for f, d in zip(feeds, due, strict=True) if d}
        if set(expect) <= covered or (len(expect) == len(names) and excused and done):
            return [r["state"] for r in rounds]
        if time.monotonic() > deadline:
            return [r["state"] for r in rounds] or ["none"]
        time.sleep(0.5)


def count_duplicates(stack: Any, feeds: int, outputs: int) -> int:
    """On-chain rounds that repeat a (feed, observation) pair, from every accepted report."""
    seen: set[tuple[int, int]] = set()
    duplicates = 0
    for report_id in range(1, int(stack.oracle.functions.reportCount().call()) + 1):
        history = stack.oracle.functions.reportOf(report_id).call()[3]
        for record in decode_history(history, outputs):
            key = (record.feed_index, record.observed_at)
            duplicates += key in seen
            seen.add(key)
    return duplicates


def summarise(
    log: list[SoakDay],
    names: list[str],
    accepted: dict[str, list[tuple[int, int, int]]],
    journal: Path,
    duplicated: int,
    seed: int,
    keep_rounds: int,
    wall: float,
) -> SoakReport:
    due = len(log) * len(names)
    published = sum(len(d.published) for d in log)
    excused = sum(len([n for n in d.excused if n not in d.published]) for d in log)
    lost = due - published - excused
    gaps, unexcused_gaps = [], []
    excused_days = {n: {d.day for d in log if n in d.excused} for n in names}
    staleness: dict[str, list[tuple[float, float]]] = {}
    for n in names:
        pts = accepted[n]
        staleness[n] = []
        for (day0, _, prev), (day1, _, acc) in itertools.pairwise(pts):
            gap = float(acc - prev)
            gaps.append(gap)
            staleness[n] += [(float(prev), 0.0), (float(acc), gap)]
            if not any(day0 < d < day1 for d in excused_days[n]):
                unexcused_gaps.append(gap)
    rounds = journal_rounds(journal)
    proofs = [r["prove_seconds"] for r in rounds if r["prove_seconds"]]
    bumps = sum(len(json.loads(r["replaced"] or "[]")) for r in rounds)
    # RSS: the longest stretch of days served by one node process.
    segments: dict[int, list[SoakDay]] = {}
    for d in log:
        segments.setdefault(d.node_pid, []).append(d)
    longest = max(segments.values(), key=len)
    # From the first day this process proved a round (a restarted node that only finishes a
    # round proved before its restart has not loaded the prover yet).
    proving = [d for d in longest if any(s == "confirmed" for s in d.states)]
    proving = (
        proving[1:]
        if len(proving) > 2 and proving[0].rss_bytes < 0.6 * proving[1].rss_bytes
        else proving
    )
    rss_first, rss_last = proving[0].rss_bytes, proving[-1].rss_bytes
    head = statistics.median(d.rss_bytes for d in proving[:3])
    tail = statistics.median(d.rss_bytes for d in proving[-3:])
    faults: dict[str, int] = {}
    for d in log:
        faults[d.fault] = faults.get(d.fault, 0) + 1
    p = np.percentile(proofs, [50, 95]) if proofs else [0.0, 0.0]
    return SoakReport(
        days=len(log),
        feeds=len(names),
        seed=seed,
        due=due,
        published=published,
        excused=excused,
        lost=lost,
        duplicated=duplicated,
        worst_staleness_s=float(max(gaps, default=0)),
        worst_staleness_unexcused_s=float(max(unexcused_gaps, default=0)),
        # A gap between two acceptances is the heartbeat plus the later round's proving and
        # submission minus the earlier one's: at most the slowest proof plus one block.
        staleness_target_s=float(HEARTBEAT + max(proofs or [0]) + 12),
        proof_seconds_p50=float(p[0]),
        proof_seconds_p95=float(p[1]),
        rss_first_bytes=rss_first,
        rss_last_bytes=rss_last,
        rss_growth_pct=100.0 * (rss_last - rss_first) / max(rss_first, 1),
        rss_median_growth_pct=100.0 * (tail - head) / max(head, 1),
        rss_max_bytes=max(d.rss_bytes for d in log),
        rss_segment_days=len(proving),
        disk_max_bytes=max(d.disk_bytes for d in log),
        keep_rounds=keep_rounds,
        fee_bumps=bumps,
        faults=faults,
        wall_seconds=wall,
        day_log=log,
        staleness=staleness,
    )


def write_soak_results(out: Path, r: SoakReport) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "node_soak.json").write_text(json.dumps(asdict(r), indent=2))
    lines = [
        f"# Node soak: {r.days} simulated days, {r.feeds} feeds, seed {r.seed}",
        "",
        f"- rounds due {r.due}, on chain {r.published}, excused by injected data/revert faults "
        f"{r.excused}, **lost {r.lost}**, **duplicated {r.duplicated}**",
        f"- worst staleness {r.worst_staleness_s / 3600:.2f} h (outside injected-fault gaps "
        f"{r.worst_staleness_unexcused_s / 3600:.2f} h; target heartbeat + slowest proof + one "
        f"block = {r.staleness_target_s / 3600:.2f} h)",
        f"- proof time p50 {r.proof_seconds_p50:.1f} s, p95 {r.proof_seconds_p95:.1f} s; fee "
        f"bumps {r.fee_bumps}",
        f"- node RSS {r.rss_first_bytes / 2**20:.0f} -> {r.rss_last_bytes / 2**20:.0f} MiB "
        f"({r.rss_growth_pct:+.1f} %; median of the first vs last three days "
        f"{r.rss_median_growth_pct:+.1f} %) over the longest uninterrupted run "
        f"({r.rss_segment_days} days from its first proof; kill faults restart the process); "
        f"peak {r.rss_max_bytes / 2**20:.0f} MiB",
        f"- disk (journal + kept proofs) at most {r.disk_max_bytes / 2**20:.1f} MiB, keeping the "
        f"last {r.keep_rounds} rounds",
        f"- faults: {', '.join(f'{k} {v}' for k, v in sorted(r.faults.items()))}; wall time "
        f"{r.wall_seconds / 60:.1f} min",
        "",
        "| day | fault | detail | published | rounds | RSS MiB | disk MiB |",
        "| ---: | --- | --- | --- | --- | ---: | ---: |",
    ]
    for d in r.day_log:
        lines.append(
            f"| {d.day} | {d.fault} | {d.detail} | {', '.join(d.published) or '-'} | "
            f"{', '.join(d.states)} | {d.rss_bytes / 2**20:.0f} | {d.disk_bytes / 2**20:.1f} |"
        )
    (out / "node_soak.md").write_text("\n".join(lines) + "\n")
    _plot(out / "node_soak_staleness.png", r)


def _plot(path: Path, r: SoakReport) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, points in r.staleness.items():
        if points:
            t0 = points[0][0]
            xs = [(t - t0) / DAY for t, _ in points]
            ax.plot(xs, [s / 3600 for _, s in points], label=name, lw=1)
    ax.axhline(r.staleness_target_s / 3600, color="k", ls="--", lw=0.8, label="target")
    ax.set_xlabel("simulated day")
    ax.set_ylabel("staleness at update (h)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
