"""Runs on SQLite: the update inside the group-commit writer's transaction, and the reads.

The writer is the only one writing (``BEGIN IMMEDIATE`` also excludes other processes),
so reading the row and writing it back in the same transaction cannot lose an update.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from receiver import jsonutil
from receiver.store import runs_history
from receiver.store.base import EventRow, NewDelivery, NewEvent
from receiver.store.polls import NewPoll
from receiver.store.polls_backends import add_poll_sqlite
from receiver.store.rows import EVENT_COLUMNS, event_row
from receiver.store.runs import (
    GET_RUN,
    INSERT_RUN,
    LINK_EVENT,
    RUN_EVENT_IDS,
    RUN_EVENT_LINKS,
    SELECT_RUN,
    SELECT_TRIGGERED,
    UPDATE_RUN,
    RunQuery,
    RunRow,
    RunStep,
    list_sql,
    previous_sql,
    run_args,
    run_row,
    trend_sql,
    update_args,
)

T = TypeVar("T")


def apply_run(
    conn: sqlite3.Connection, ev: NewEvent, step: RunStep
) -> tuple[NewEvent, Sequence[NewDelivery]] | str:
    """Merge ``ev`` into its run and plan it; called after the redelivery check, before the event insert.
    Answers the run's last event id instead when ``ev`` only repeats it (``RunStep.repeats``)."""
    found = conn.execute(SELECT_TRIGGERED, step.link).fetchone() if step.link is not None else None
    if found is None:
        found = conn.execute(SELECT_RUN, (step.source_id, step.run_id)).fetchone()
    current = run_row(found, jsonutil.loads) if found else None
    if current is not None and step.repeats(current):
        return current.last_event_id
    merged = step.merge(current)
    previous = None
    query = previous_sql(merged) if step.wants_previous else None
    if query is not None:
        row = conn.execute(*query).fetchone()
        previous = run_row(row, jsonutil.loads) if row else None
    history = runs_history.read_sqlite(conn, step.wants(merged))
    event, deliveries, run = step.complete(ev, merged, previous, history)
    args = run_args(run, jsonutil.dumps)
    if current is None:
        conn.execute(INSERT_RUN, args)
    else:
        conn.execute(UPDATE_RUN, update_args(args))
    conn.execute(LINK_EVENT, (run.key, ev.id))
    if step.watch is not None:
        add_poll_sqlite(conn, NewPoll(step.source_id, step.run_id, run.platform, step.watch, run.updated_at, run.key))
    return event, deliveries


class SqliteRuns:
    """The run reads of :class:`~receiver.store.sqlite.SqliteStore` (mixed in)."""

    if TYPE_CHECKING:  # provided by SqliteStore

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def list_runs(self, query: RunQuery) -> list[RunRow]:
        sql, args = list_sql(query)
        return await self._read(lambda conn: [run_row(r, jsonutil.loads) for r in conn.execute(sql, args)])

    async def get_run(self, key: str) -> RunRow | None:
        def q(conn: sqlite3.Connection) -> RunRow | None:
            r = conn.execute(GET_RUN, (key,)).fetchone()
            return run_row(r, jsonutil.loads) if r else None

        return await self._read(q)

    async def run_events(self, key: str, limit: int) -> list[EventRow]:
        """The run's events, oldest first (event ids are time-ordered)."""

        def q(conn: sqlite3.Connection) -> list[EventRow]:
            ids = [i for (i,) in conn.execute(RUN_EVENT_IDS, (key, limit))]
            marks = ",".join("?" * len(ids))
            sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN ({marks}) ORDER BY id"
            return [event_row(r, jsonutil.loads) for r in conn.execute(sql, ids)] if ids else []

        return await self._read(q)

    async def run_trend(self, run: RunRow, limit: int) -> list[RunRow]:
        """Newest first (see ``trend_sql``)."""
        found = trend_sql(run, limit)
        if found is None:
            return []
        sql, args = found
        return await self._read(lambda conn: [run_row(r, jsonutil.loads) for r in conn.execute(sql, args)])

    async def run_event_ids(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """run key → its event ids, oldest first (runs without events are absent)."""
        if not keys:
            return {}
        sql = RUN_EVENT_LINKS.format(marks=",".join("?" * len(keys)))

        def q(conn: sqlite3.Connection) -> dict[str, list[str]]:
            found: dict[str, list[str]] = {}
            for key, event_id in conn.execute(sql, list(keys)):
                found.setdefault(key, []).append(event_id)
            return found

        return await self._read(q)
