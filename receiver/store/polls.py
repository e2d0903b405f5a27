"""The ``polls`` and ``poll_history`` tables (0008_polls.sql): row types and statements, written
once for both backends (``?`` marks; ``pg()`` gives psycopg's).

A schedule row per watched run, keyed like the run row by (source, platform run id), is claimed
with a lease like a delivery: a poller that dies lets the lease run out and the row becomes
claimable again (restart and ``kill -9`` resume where they stopped); a claimed row is polled by
its lease owner only (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single writer on SQLite).
Every poll adds one history row; only the last ``HISTORY_KEPT`` per run are kept.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HISTORY_KEPT = 50


class PollState(enum.StrEnum):
    WATCHING = "watching"
    DONE = "done"  # the run reached a final status
    GAVE_UP = "gave_up"  # max_duration passed first (a run.timed_out event says so)


@dataclass(frozen=True)
class NewPoll:
    """Start watching a run (nothing happens when it is watched already)."""

    source_id: str
    run_id: str
    platform: str
    sink_id: str
    now: float
    run_key: str | None = None
    due_at: float | None = None  # default: now


@dataclass(frozen=True)
class PollRow:
    source_id: str
    run_id: str
    run_key: str | None
    platform: str
    sink_id: str
    state: str
    due_at: float
    lease_owner: str | None
    lease_until: float | None
    started_at: float
    interval_seconds: float
    failures: int
    unchanged: int
    polls: int
    cursor: dict[str, Any]
    last_status: int | None
    last_error: str | None
    last_polled_at: float | None
    updated_at: float


@dataclass(frozen=True)
class PollHistoryRow:
    number: int
    at: float
    status: int | None
    error_class: str | None
    observations: int
    reason: str | None


@dataclass(frozen=True)
class Polled:
    """What one poll did (``history``), and the schedule after it; recorded only by the lease owner.
    Without ``history`` nothing was asked (e.g. the rate limit held the poll back): the row is only
    given back, due at ``due_at``."""

    state: PollState
    due_at: float
    now: float
    interval_seconds: float = 0.0
    failures: int = 0
    unchanged: int = 0
    cursor: dict[str, Any] = field(default_factory=dict)
    last_status: int | None = None
    last_error: str | None = None
    run_key: str | None = None
    history: PollHistoryRow | None = None


POLL_COLUMNS = (
    "source_id, run_id, run_key, platform, sink_id, state, due_at, lease_owner, lease_until, started_at, "
    "interval_seconds, failures, unchanged, polls, cursor, last_status, last_error, last_polled_at, updated_at"
)
_CURSOR = POLL_COLUMNS.split(", ").index("cursor")
_WATCHING = f"state = '{PollState.WATCHING}'"

INSERT_POLL = (
    "INSERT INTO polls (source_id, run_id, run_key, platform, sink_id, state, due_at, started_at, updated_at) "
    f"VALUES (?, ?, ?, ?, ?, '{PollState.WATCHING}', ?, ?, ?) ON CONFLICT (source_id, run_id) DO NOTHING"
)
# Due rows nobody holds, and rows whose holder died (its lease ran out), through polls_due.
DUE_POLLS = (
    f"SELECT source_id, run_id FROM polls WHERE {_WATCHING} AND due_at <= ? "
    "AND (lease_until IS NULL OR lease_until < ?) ORDER BY due_at LIMIT ?"
)
LEASE_POLLS = "SET lease_owner = ?, lease_until = ?, updated_at = ?"
RENEW_POLL = "UPDATE polls SET lease_until = ? WHERE source_id = ? AND run_id = ? AND lease_owner = ?"
FINISH_POLL = (
    "UPDATE polls SET state = ?, due_at = ?, interval_seconds = ?, failures = ?, unchanged = ?, polls = polls + ?, "
    "cursor = ?, last_status = COALESCE(?, last_status), last_error = ?, "
    "last_polled_at = COALESCE(?, last_polled_at), run_key = COALESCE(run_key, ?), lease_owner = NULL, "
    "lease_until = NULL, updated_at = ? WHERE source_id = ? AND run_id = ? AND lease_owner = ?"
)
# Numbered by the row's poll count, just incremented by FINISH_POLL in the same transaction.
INSERT_HISTORY = (
    "INSERT INTO poll_history (source_id, run_id, number, at, status, error_class, observations, reason) "
    "SELECT source_id, run_id, polls, ?, ?, ?, ?, ? FROM polls WHERE source_id = ? AND run_id = ?"
)
TRIM_HISTORY = (
    "DELETE FROM poll_history WHERE source_id = ? AND run_id = ? AND number <= "
    "(SELECT polls FROM polls WHERE source_id = ? AND run_id = ?) - ?"
)
GET_POLL = f"SELECT {POLL_COLUMNS} FROM polls WHERE source_id = ? AND run_id = ?"
HISTORY = (
    "SELECT number, at, status, error_class, observations, reason FROM poll_history "
    "WHERE source_id = ? AND run_id = ? ORDER BY number DESC LIMIT ?"
)
COUNT_WATCHING = f"SELECT COUNT(*) FROM polls WHERE {_WATCHING}"


def claim_sqlite() -> str:
    """Lease the due rows (SQLite: one statement in the writer's transaction)."""
    return (
        f"UPDATE polls {LEASE_POLLS} WHERE (source_id, run_id) IN ({DUE_POLLS}) RETURNING {POLL_COLUMNS}"
    )


def claim_postgres() -> str:
    """Lease the due rows (PostgreSQL: rows another process is claiming are skipped, not waited for)."""
    columns = ", ".join("p." + c for c in POLL_COLUMNS.split(", "))
    return (
        f"WITH due AS ({DUE_POLLS} FOR UPDATE SKIP LOCKED) UPDATE polls p {LEASE_POLLS} FROM due "
        f"WHERE p.source_id = due.source_id AND p.run_id = due.run_id RETURNING {columns}"
    )


def claim_args(now: float, limit: int, lease_seconds: float, owner: str, *, due_first: bool) -> tuple[Any, ...]:
    """The arguments of a claim: PostgreSQL's statement reads the due rows first (its ``WITH``)."""
    lease, due = (owner, now + lease_seconds, now), (now, now, limit)
    return (*due, *lease) if due_first else (*lease, *due)


def poll_args(p: NewPoll) -> tuple[Any, ...]:
    due = p.now if p.due_at is None else p.due_at
    return (p.source_id, p.run_id, p.run_key, p.platform, p.sink_id, due, p.now, p.now)


def finish_args(source_id: str, run_id: str, owner: str, u: Polled, encode: Callable[[Any], str]) -> tuple[Any, ...]:
    h = u.history
    return (
        u.state.value, u.due_at, u.interval_seconds, u.failures, u.unchanged, 0 if h is None else 1,
        encode(u.cursor), u.last_status, u.last_error, None if h is None else h.at, u.run_key, u.now,
        source_id, run_id, owner,
    )  # fmt: skip


def history_args(source_id: str, run_id: str, h: PollHistoryRow) -> tuple[Any, ...]:
    return (h.at, h.status, h.error_class, h.observations, h.reason, source_id, run_id)


def trim_args(source_id: str, run_id: str) -> tuple[Any, ...]:
    return (source_id, run_id, source_id, run_id, HISTORY_KEPT)


def poll_row(r: Sequence[Any], decode: Callable[[Any], Any]) -> PollRow:
    values = list(r)
    values[_CURSOR] = decode(values[_CURSOR]) if values[_CURSOR] else {}
    return PollRow(*values)
