"""Runs on PostgreSQL: the update inside the event's transaction, and the reads.

Several receivers (processes or hosts) may store events of one run at once. The row is
read ``FOR UPDATE``, so the second transaction waits for the first to commit and then
merges into its result; a first insert that loses the race to a concurrent one
(``ON CONFLICT DO NOTHING`` inserts nothing) reads the winner's row and merges into it.
No update is lost and nothing is merged twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from receiver.store import runs_history
from receiver.store.base import EventRow, NewDelivery, NewEvent
from receiver.store.polls import NewPoll
from receiver.store.polls_backends import add_poll_postgres
from receiver.store.rows import EVENT_COLUMNS, event_row
from receiver.store.runs import (
    GET_RUN,
    INSERT_RUN_IF_ABSENT,
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
from receiver.store.sql import pg, pg_clean

Conn = psycopg.AsyncConnection[tuple[Any, ...]]

_SELECT_FOR_UPDATE = pg(SELECT_RUN) + " FOR UPDATE"
_TRIGGERED_FOR_UPDATE = pg(SELECT_TRIGGERED) + " FOR UPDATE"
_INSERT, _UPDATE, _LINK, _GET = pg(INSERT_RUN_IF_ABSENT), pg(UPDATE_RUN), pg(LINK_EVENT), pg(GET_RUN)
_EVENTS = f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN ({pg(RUN_EVENT_IDS)}) ORDER BY id"


def _parsed(value: Any) -> Any:
    """psycopg already decodes json columns."""
    return value


async def apply_run(conn: Conn, ev: NewEvent, step: RunStep) -> tuple[NewEvent, Sequence[NewDelivery]] | str:
    """Merge ``ev`` into its run and plan it; called after the redelivery check, before the event insert.
    Answers the run's last event id instead when ``ev`` only repeats it (``RunStep.repeats``)."""
    for _ in range(3):  # a lost first-insert race costs one more round; a third cannot happen
        found = None
        if step.link is not None:
            cur = await conn.execute(_TRIGGERED_FOR_UPDATE, pg_clean(step.link))
            found = await cur.fetchone()
        if found is None:
            cur = await conn.execute(_SELECT_FOR_UPDATE, pg_clean((step.source_id, step.run_id)))
            found = await cur.fetchone()
        current = run_row(found, _parsed) if found else None
        if current is not None and step.repeats(current):
            return current.last_event_id
        merged = step.merge(current)
        previous = None
        query = previous_sql(merged) if step.wants_previous else None
        if query is not None:
            cur = await conn.execute(pg(query[0]), pg_clean(query[1]))
            row = await cur.fetchone()
            previous = run_row(row, _parsed) if row else None
        history = await runs_history.read_postgres(conn, step.wants(merged))
        event, deliveries, run = step.complete(ev, merged, previous, history)
        args = pg_clean(run_args(run, json.dumps))
        if current is None:
            cur = await conn.execute(_INSERT, args)
            if cur.rowcount != 1:
                continue  # another transaction created the run meanwhile: merge into its row
        else:
            await conn.execute(_UPDATE, update_args(args))
        await conn.execute(_LINK, (run.key, ev.id))
        if step.watch is not None:
            await add_poll_postgres(conn, NewPoll(step.source_id, step.run_id, run.platform, step.watch,
                                                  run.updated_at, run.key))  # fmt: skip
        return event, deliveries
    raise RuntimeError(f"run {step.run_id!r} of source {step.source_id!r}: could not be created or locked")


class PostgresRuns:
    """The run reads of :class:`~receiver.store.postgres.PostgresStore` (mixed in)."""

    if TYPE_CHECKING:  # provided by PostgresStore

        async def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def list_runs(self, query: RunQuery) -> list[RunRow]:
        sql, args = list_sql(query)
        return [run_row(r, _parsed) for r in await self._read(pg(sql), args)]

    async def get_run(self, key: str) -> RunRow | None:
        rows = await self._read(_GET, (key,))
        return run_row(rows[0], _parsed) if rows else None

    async def run_events(self, key: str, limit: int) -> list[EventRow]:
        """The run's events, oldest first (event ids are time-ordered)."""
        return [event_row(r, _parsed) for r in await self._read(_EVENTS, (key, limit))]

    async def run_trend(self, run: RunRow, limit: int) -> list[RunRow]:
        """Newest first (see ``trend_sql``)."""
        found = trend_sql(run, limit)
        if found is None:
            return []
        sql, args = found
        return [run_row(r, _parsed) for r in await self._read(pg(sql), args)]

    async def run_event_ids(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """run key → its event ids, oldest first (runs without events are absent)."""
        if not keys:
            return {}
        found: dict[str, list[str]] = {}
        for key, event_id in await self._read(pg(RUN_EVENT_LINKS.format(marks=",".join("?" * len(keys)))), keys):
            found.setdefault(key, []).append(event_id)
        return found
