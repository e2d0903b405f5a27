"""Recording a run Hookyard started (``TriggeredRun``), in the transaction that records the
success of the delivery that started it: a new ``queued`` row, or the trigger's context added
to the row the run's own webhook created first.

Keyed by (source, platform run id) like every run row, so recording the same success twice
(a crash between the send and its commit, then the delivery sent again and answered with the
same run) finds the row and changes nothing more.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from receiver import jsonutil
from receiver.ids import new_id
from receiver.store.polls import NewPoll
from receiver.store.polls_backends import add_poll_postgres, add_poll_sqlite
from receiver.store.runs import (
    ADD_TRIGGER,
    FIND_RUN_KEY,
    INSERT_RUN,
    INSERT_RUN_IF_ABSENT,
    TriggeredRun,
    add_trigger_args,
    run_args,
)
from receiver.store.sql import pg, pg_clean

if TYPE_CHECKING:  # the SQLite store needs no PostgreSQL driver
    import psycopg

    Conn = psycopg.AsyncConnection[tuple[Any, ...]]

_PG_FIND, _PG_INSERT, _PG_ADD = pg(FIND_RUN_KEY) + " FOR UPDATE", pg(INSERT_RUN_IF_ABSENT), pg(ADD_TRIGGER)


def _poll(run: TriggeredRun, key: str) -> NewPoll | None:
    """The schedule that follows a run whose platform has a poller (first poll at once)."""
    if run.poll_sink is None:
        return None
    return NewPoll(run.source_id, run.run_id, run.platform, run.poll_sink, run.now, run_key=key)


def record_trigger_sqlite(conn: sqlite3.Connection, run: TriggeredRun) -> str:
    """Create or complete the run on SQLite (inside the writer's transaction); returns its key."""
    found = conn.execute(FIND_RUN_KEY, (run.source_id, run.run_id)).fetchone()
    if found is None:
        key = new_id("run", run.now)
        conn.execute(INSERT_RUN, run_args(run.new_row(key), jsonutil.dumps))
    else:
        key = str(found[0])
        conn.execute(ADD_TRIGGER, add_trigger_args(run, key))
    poll = _poll(run, key)
    if poll is not None:
        add_poll_sqlite(conn, poll)
    return key


async def record_trigger_postgres(conn: Conn, run: TriggeredRun) -> str:
    """Create or complete the run on PostgreSQL; a receiver creating the same run concurrently
    (its webhook raced ahead) wins the insert, and the trigger is added to its row."""
    for _ in range(3):  # a lost first-insert race costs one more round; a third cannot happen
        cur = await conn.execute(_PG_FIND, pg_clean((run.source_id, run.run_id)))
        found = await cur.fetchone()
        if found is None:
            key = new_id("run", run.now)
            cur = await conn.execute(_PG_INSERT, pg_clean(run_args(run.new_row(key), json.dumps)))
            if cur.rowcount != 1:
                continue
        else:
            key = str(found[0])
            await conn.execute(_PG_ADD, pg_clean(add_trigger_args(run, key)))
        poll = _poll(run, key)
        if poll is not None:
            await add_poll_postgres(conn, poll)
        return key
    raise RuntimeError(f"run {run.run_id!r} of source {run.source_id!r}: could not be created or locked")
