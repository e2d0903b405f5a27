"""The ``runs`` table: row type, queries and statements, written once for both backends.

A run row changes only inside the transaction that stores one of its events (see
``RunStep``): the store reads the current row, the step merges the event into it and
plans the enriched event, and the store writes both. Statements use ``?``
placeholders; :func:`pg` turns them into psycopg's ``%s``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, NamedTuple, Protocol

from receiver.store.base import NewDelivery, NewEvent, RunRow, TriggeredRun
from receiver.store.runs_history import History, Wants

RUN_FIELDS = [f.name for f in fields(RunRow)]
RUN_COLUMNS = ", ".join(RUN_FIELDS)
_JSON_FIELDS = {RUN_FIELDS.index("metrics"), RUN_FIELDS.index("counts")}
_FINAL = RUN_FIELDS.index("final")
_run_values = attrgetter(*RUN_FIELDS)  # the columns in order, in one C call

SELECT_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE source_id = ? AND run_id = ?"
# The newest run of a platform Hookyard started for a commit (index runs_trigger_commit, 0008).
SELECT_TRIGGERED = (
    f"SELECT {RUN_COLUMNS} FROM runs WHERE platform = ? AND repo = ? AND trigger_sha = ? ORDER BY key DESC LIMIT 1"
)
GET_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE key = ?"
# SQLite's one writer has just looked the run up in its write transaction: a conflict cannot happen
# (it would fail the write, not pass silently), and the upsert clause costs ~10% of the insert.
INSERT_RUN = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * len(RUN_FIELDS))})"
# PostgreSQL: the winner of a concurrent first insert is found and merged into (runs_postgres.py).
INSERT_RUN_IF_ABSENT = INSERT_RUN + " ON CONFLICT (source_id, run_id) DO NOTHING"
UPDATE_RUN = f"UPDATE runs SET {', '.join(f'{c} = ?' for c in RUN_FIELDS[1:])} WHERE key = ?"
LINK_EVENT = "INSERT INTO run_events (run_key, event_id) VALUES (?, ?)"
# Ordered by (ended_at, key): two runs that ended in the same second still have one order. The
# row-value bound walks the (test_key[, branch], ended_at, key) index backwards from this run, so
# the cost does not grow with the test's history (even when every run ended at the same time).
_PREVIOUS = (
    f"SELECT {RUN_COLUMNS} FROM runs WHERE test_key = ? {{branch}}AND (ended_at, key) < (?, ?) "
    "AND verdict IS NOT NULL ORDER BY ended_at DESC, key DESC LIMIT 1"
)
PREVIOUS_ANY_BRANCH = _PREVIOUS.format(branch="")
PREVIOUS_SAME_BRANCH = _PREVIOUS.format(branch="AND branch = ? ")
RUN_EVENT_IDS = "SELECT event_id FROM run_events WHERE run_key = ? ORDER BY event_id LIMIT ?"
# A test's trend: its newest finished runs up to a bound, newest first, on the runs_previous index.
_TREND = (
    f"SELECT {RUN_COLUMNS} FROM runs WHERE test_key = ? AND verdict IS NOT NULL {{bound}}"
    "ORDER BY ended_at DESC, key DESC LIMIT ?"
)
TREND_UPTO = _TREND.format(bound="AND (ended_at, key) <= (?, ?) ")
TREND_LATEST = _TREND.format(bound="")
# Which events each of several runs has (the runs page shows what their events notified).
RUN_EVENT_LINKS = "SELECT run_key, event_id FROM run_events WHERE run_key IN ({marks}) ORDER BY run_key, event_id"


@dataclass(frozen=True)
class RunQuery:
    platform: str | None = None
    name: str | None = None
    branch: str | None = None
    pr: int | None = None
    outcome: str | None = None
    transition: str | None = None
    before: str | None = None  # a run key: the page starts after it (older)
    limit: int = 50


def list_sql(q: RunQuery) -> tuple[str, list[Any]]:
    """Newest first (keys are time-ordered); each filter has an index (0003_runs.sql)."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("platform", q.platform), ("name", q.name), ("branch", q.branch), ("pr", q.pr),
        ("outcome", q.outcome), ("transition", q.transition),
    ):  # fmt: skip
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if q.before is not None:
        where.append("key < ?")
        args.append(q.before)
    sql = f"SELECT {RUN_COLUMNS} FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY key DESC LIMIT ?", [*args, q.limit]


def previous_sql(run: RunRow) -> tuple[str, tuple[Any, ...]] | None:
    """The previous finished run of the same test (same branch when the branch is known)."""
    if run.test_key is None or run.ended_at is None:
        return None
    order = (run.ended_at, run.key)
    if run.branch is None:
        return PREVIOUS_ANY_BRANCH, (run.test_key, *order)
    return PREVIOUS_SAME_BRANCH, (run.test_key, run.branch, *order)


def trend_sql(run: RunRow, limit: int) -> tuple[str, tuple[Any, ...]] | None:
    """The last ``limit`` finished runs of ``run``'s test that ended no later than it (itself
    included); for a run not finished yet, the test's latest ones. None: the run has no test."""
    if run.test_key is None:
        return None
    if run.verdict is None or run.ended_at is None:
        return TREND_LATEST, (run.test_key, limit)
    return TREND_UPTO, (run.test_key, run.ended_at, run.key, limit)


def run_args(run: RunRow, encode: Callable[[Any], Any]) -> list[Any]:
    values = list(_run_values(run))  # not astuple(): it deep-copies the dicts
    for i in _JSON_FIELDS:
        values[i] = None if values[i] is None else encode(values[i])
    values[_FINAL] = int(run.final)
    return values


def update_args(insert_args: list[Any]) -> list[Any]:
    """``run_args`` in the order of UPDATE_RUN (the key last, in its WHERE)."""
    return [*insert_args[1:], insert_args[0]]


def run_row(r: Sequence[Any], decode: Callable[[Any], Any]) -> RunRow:
    values = list(r)
    for i in _JSON_FIELDS:
        values[i] = None if values[i] is None else decode(values[i])
    values[_FINAL] = bool(values[_FINAL])
    return RunRow(*values)


class CommitLink(NamedTuple):
    """Where an event of a run known only by its commit belongs: the run of ``platform`` that
    Hookyard started for ``repo`` at ``sha`` (Bug0 reports through GitHub statuses)."""

    platform: str
    repo: str
    sha: str


class RunStep(Protocol):
    """What the store needs from run tracking (``receiver/runs/track.py``) to save a run event.

    ``merge`` and ``complete`` are pure: the store may call them again when a
    transaction is retried."""

    source_id: str
    run_id: str
    wants_previous: bool
    # Look for the run Hookyard started for this commit first; (source_id, run_id) when there is none.
    link: CommitLink | None
    watch: str | None  # the sink to poll the run through from now on (a source's ``poll:``), if any

    def repeats(self, current: RunRow) -> bool:
        """Whether the event only repeats a transition the run already went through (a poll and a
        webhook reporting the same one): it is then a duplicate of the run's last event."""

    def merge(self, current: RunRow | None) -> RunRow:
        """The run after this event (a new row when ``current`` is None)."""

    def wants(self, run: RunRow) -> Wants | None:
        """What else to read for the merged ``run`` (``runs_history``): its deployment, its baseline."""

    def complete(
        self, event: NewEvent, run: RunRow, previous: RunRow | None, history: History | None = None
    ) -> tuple[NewEvent, Sequence[NewDelivery], RunRow]:
        """The enriched, planned event, its deliveries and the run row to write."""


FIND_RUN_KEY = "SELECT key FROM runs WHERE source_id = ? AND run_id = ?"
# A run whose webhook raced ahead of the trigger's answer: the trigger adds what it knows and
# overwrites nothing the platform said (git fields only where still unknown). Recording the same
# success again sets the same values: nothing happens twice.
ADD_TRIGGER = (
    "UPDATE runs SET trigger_event_id = ?, trigger_delivery_id = ?, correlation_id = COALESCE(correlation_id, ?), "
    "trigger_sha = ?, repo = COALESCE(repo, ?), sha = COALESCE(sha, ?), branch = COALESCE(branch, ?), "
    "pr = COALESCE(pr, ?), updated_at = ? WHERE key = ?"
)


def add_trigger_args(run: TriggeredRun, key: str) -> tuple[Any, ...]:
    return (
        run.trigger_event_id, run.trigger_delivery_id, run.correlation_id, run.sha,
        run.repo, run.sha, run.branch, run.pr, run.now, key,
    )  # fmt: skip
