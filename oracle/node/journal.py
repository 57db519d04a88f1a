"""SQLite journal of oracle rounds: observed -> attested -> proven -> submitted -> confirmed.

Every state change is one committed transaction (WAL, synchronous=FULL), written BEFORE the
action it enables: the signed transaction and its hash are journaled before broadcasting, so a
node killed at any instant restarts knowing exactly which round was in flight and what to do.
An observation (the latest candle time of every feed in the round) is UNIQUE: a round is never
created twice for the same data, so it can never reach the chain twice. A round journals the bars
its features come from, so attesters can be asked again after a crash with the very same data.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.node.errors import JournalError

OBSERVED = "observed"
ATTESTED = "attested"
PROVEN = "proven"
SUBMITTED = "submitted"
CONFIRMED = "confirmed"
REVERTED = "reverted"
ABANDONED = "abandoned"

TERMINAL = frozenset({CONFIRMED, REVERTED, ABANDONED})
TRANSITIONS: dict[str, frozenset[str]] = {
    OBSERVED: frozenset({ATTESTED, ABANDONED}),
    ATTESTED: frozenset({PROVEN, ABANDONED}),
    PROVEN: frozenset({SUBMITTED, REVERTED, ABANDONED}),
    SUBMITTED: frozenset({CONFIRMED, REVERTED, ABANDONED}),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    observation TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    feeds TEXT NOT NULL,
    due TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    features TEXT NOT NULL,
    forecasts TEXT,
    bars TEXT,
    attestation TEXT,
    proof_hex TEXT,
    instances TEXT,
    prove_seconds REAL,
    nonce INTEGER,
    tx_hash TEXT,
    raw_tx TEXT,
    fees TEXT,
    replaced TEXT,
    broadcast_block INTEGER,
    block_number INTEGER,
    gas_used INTEGER,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rounds_state ON rounds(state);
CREATE UNIQUE INDEX IF NOT EXISTS rounds_nonce ON rounds(nonce) WHERE state = 'confirmed';
"""

_JSON_COLUMNS = (
    "feeds",
    "due",
    "observed_at",
    "features",
    "forecasts",
    "bars",
    "attestation",
    "instances",
    "fees",
    "replaced",
)
# Columns added after the first release: created on open when a journal predates them.
_ADDED_COLUMNS = {
    "bars": "TEXT",
    "attestation": "TEXT",
    "fees": "TEXT",
    "replaced": "TEXT",
    "broadcast_block": "INTEGER",
}


@dataclass(frozen=True)
class Round:
    """One journaled round (a row of the `rounds` table)."""

    id: int
    observation: str
    state: str
    feeds: list[str]
    due: list[bool]
    observed_at: list[int]
    features: list[list[float]]
    forecasts: list[list[float]] | None
    bars: list[Any] | None  # per feed: the bars its features come from (None: not in the round)
    attestation: dict[str, Any] | None  # config version, commitment, signatures, outcomes
    proof_hex: str | None
    instances: list[int] | None
    prove_seconds: float | None
    nonce: int | None
    tx_hash: str | None
    raw_tx: str | None
    fees: list[int] | None  # [maxFeePerGas, maxPriorityFeePerGas] of the current tx (wei)
    replaced: list[str] | None  # hashes of earlier transactions at the same nonce (fee bumps)
    broadcast_block: int | None  # block number when the current tx was first broadcast
    block_number: int | None
    gas_used: int | None
    error: str | None
    created_at: float
    updated_at: float

    @property
    def due_feeds(self) -> list[str]:
        return [f for f, d in zip(self.feeds, self.due, strict=True) if d]

    @property
    def slots(self) -> list[str | None]:
        """The feed each report slot carries; None for a feed left out of this round."""
        return [f if d else None for f, d in zip(self.feeds, self.due, strict=True)]

    @property
    def slot_times(self) -> list[int]:
        """Per slot: the close time of the feed's last bar, 0 for an empty slot."""
        return [t if d else 0 for t, d in zip(self.observed_at, self.due, strict=True)]


def observation_key(observed_at: dict[str, int]) -> str:
    """Canonical identity of an observation: each feed's latest candle time, sorted by feed."""
    return json.dumps(dict(sorted(observed_at.items())), separators=(",", ":"))


class Journal:
    """The node's durable round log (one SQLite file, one writer: the node)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # One writer (the node) that may run its loop on another thread than it was built on.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(rounds)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE rounds ADD COLUMN {column} {kind}")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a usable journal ({exc})") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open_round(
        self,
        observed_at: dict[str, int],
        feeds: list[str],
        due: list[bool],
        features: list[list[float]],
        forecasts: list[list[float]] | None = None,
        bars: list[Any] | None = None,
    ) -> Round | None:
        """Record a new observed round; None when this observation already has a round.

        `observed_at` holds the due feeds' candle times (the round's identity)."""
        now = time.time()
        try:
            cur = self._db.execute(
                "INSERT INTO rounds (observation, state, feeds, due, observed_at, features,"
                " forecasts, bars, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    observation_key(observed_at),
                    OBSERVED,
                    json.dumps(feeds),
                    json.dumps(due),
                    json.dumps([observed_at.get(f, 0) for f in feeds]),
                    json.dumps(features),
                    json.dumps(forecasts) if forecasts is not None else None,
                    json.dumps(bars) if bars is not None else None,
                    now,
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            return None
        return self.get(int(cur.lastrowid))

    def has_observation(self, observed_at: dict[str, int]) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM rounds WHERE observation = ?", (observation_key(observed_at),)
        ).fetchone()
        return row is not None

    def round_of(self, observed_at: dict[str, int]) -> Round | None:
        """The round that holds observation `observed_at`, if any."""
        row = self._db.execute(
            "SELECT * FROM rounds WHERE observation = ?", (observation_key(observed_at),)
        ).fetchone()
        return None if row is None else _to_round(row)

    def release(self, round_id: int) -> Round:
        """Free the observation of abandoned or reverted round `round_id` so a new round may
        be opened for it (`proofcast node retry`). The round stays in the journal, renamed
        `<observation>#retried-<id>`; a confirmed or unfinished round is refused."""
        current = self.get(round_id)
        if current.state not in (ABANDONED, REVERTED):
            raise JournalError(
                f"{self.path}: round {round_id} is {current.state}; only an abandoned or "
                "reverted round can be retried"
            )
        if "#retried-" not in current.observation:
            self._db.execute(
                "UPDATE rounds SET observation = ?, updated_at = ? WHERE id = ?",
                (f"{current.observation}#retried-{round_id}", time.time(), round_id),
            )
        return self.get(round_id)

    def get(self, round_id: int) -> Round:
        row = self._db.execute("SELECT * FROM rounds WHERE id = ?", (round_id,)).fetchone()
        if row is None:
            raise JournalError(f"{self.path}: no round {round_id}")
        return _to_round(row)

    def advance(self, round_id: int, state: str, **fields: Any) -> Round:
        """Move round `round_id` to `state`, storing `fields`; refuses illegal transitions."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            current = self.get(round_id).state
            same = state == current and current not in TERMINAL  # `update`: fields only
            if not same and state not in TRANSITIONS.get(current, frozenset()):
                raise JournalError(
                    f"{self.path}: round {round_id} cannot go from {current!r} to {state!r}"
                )
            values = {
                k: json.dumps(v) if k in _JSON_COLUMNS and v is not None else v
                for k, v in fields.items()
            }
            values |= {"state": state, "updated_at": time.time()}
            assignments = ", ".join(f"{k} = ?" for k in values)
            self._db.execute(
                f"UPDATE rounds SET {assignments} WHERE id = ?", (*values.values(), round_id)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return self.get(round_id)

    def update(self, round_id: int, **fields: Any) -> Round:
        """Change fields of an unfinished round without moving its state (e.g. a feed left
        out after the attesters refused it)."""
        current = self.get(round_id)
        if current.state in TERMINAL:
            raise JournalError(f"{self.path}: round {round_id} is {current.state}: not updatable")
        return self.advance(round_id, current.state, **fields)

    def unfinished(self) -> list[Round]:
        """Rounds not in a terminal state, oldest first (at most one in normal operation)."""
        rows = self._db.execute(
            "SELECT * FROM rounds WHERE state NOT IN (?, ?, ?) ORDER BY id",
            tuple(sorted(TERMINAL)),
        ).fetchall()
        return [_to_round(r) for r in rows]

    def rounds(self, state: str | None = None) -> list[Round]:
        """All rounds (optionally in one state), oldest first."""
        if state is None:
            rows = self._db.execute("SELECT * FROM rounds ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM rounds WHERE state = ? ORDER BY id", (state,)
            ).fetchall()
        return [_to_round(r) for r in rows]

    def iter_recent(self, limit: int = 10) -> Iterator[Round]:
        rows = self._db.execute("SELECT * FROM rounds ORDER BY id DESC LIMIT ?", (limit,))
        for row in rows.fetchall():
            yield _to_round(row)

    def prune(self, keep_rounds: int, keep_rows: int) -> int:
        """Clear features, bars, proof and raw transaction of finished rounds older than the
        last `keep_rounds`, and delete finished rounds older than the last `keep_rows`; returns
        the rounds cleared. Unfinished rounds are never touched."""
        done = tuple(sorted(TERMINAL))
        old = "state IN (?, ?, ?) AND id <= (SELECT MAX(id) FROM rounds) - ?"
        cleared = self._db.execute(
            "UPDATE rounds SET bars = NULL, proof_hex = NULL, raw_tx = NULL, features = '[]' "
            f"WHERE {old} AND (proof_hex IS NOT NULL OR raw_tx IS NOT NULL OR bars IS NOT NULL)",
            (*done, keep_rounds),
        ).rowcount
        self._db.execute(f"DELETE FROM rounds WHERE {old}", (*done, keep_rows))
        if cleared:  # give the space back: the WAL would otherwise only ever grow to its limit
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(cleared)

    def size_bytes(self) -> int:
        """Bytes the journal uses on disk (database and its WAL)."""
        wal = self.path.with_name(self.path.name + "-wal")
        return sum(p.stat().st_size for p in (self.path, wal) if p.exists())

    def last_nonce(self) -> int | None:
        """Highest nonce of a transaction the node signed and journaled (any state)."""
        row = self._db.execute("SELECT MAX(nonce) FROM rounds").fetchone()
        return None if row[0] is None else int(row[0])


def _to_round(row: sqlite3.Row) -> Round:
    data = dict(row)
    for key in _JSON_COLUMNS:
        if data[key] is not None:
            data[key] = json.loads(data[key])
    return Round(**data)
