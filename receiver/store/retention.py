"""History is bounded: the statements that prune old rows, written once for both backends.

One *batch* is one short transaction: at most ``limit`` events older than the horizon are
deleted together with their raw bodies (in the event row), redelivery keys, run links,
deliveries and attempts. An event is never deleted while one of its deliveries is not
final (``queued``, ``in_progress``, ``retrying``): sending it needs the event. Runs go by
their own, longer horizon, with their run links. Every delete is idempotent, so two
pruners (two daemons on one PostgreSQL) may run at once: PostgreSQL takes each batch's
events with ``FOR UPDATE SKIP LOCKED`` (the other pruner takes the next ones), SQLite runs
each batch through its one writer. The loop that calls these is ``receiver/pruner.py``.

SQLite gives freed pages back to the file system with ``PRAGMA incremental_vacuum`` (files
created with ``auto_vacuum = INCREMENTAL``; an older file is switched by ``hookyard db
vacuum``). PostgreSQL's autovacuum makes the space reusable on its own.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from receiver.store import base
from receiver.store.base import DeliveryState
from receiver.store.groups import OPEN
from receiver.store.retention_side import SIDE_TABLES, prune_side
from receiver.store.sql import DROP_EXPIRED_SESSIONS, pg
from receiver.store.steps import drive_postgres, drive_sqlite

# The tables a pass prunes, in the order a batch deletes from them (children first: foreign keys).
TABLES = (
    "attempts", "deliveries", "event_keys", "run_events", "events", "poll_history", "polls", "runs", "web_sessions",
    *SIDE_TABLES,
)  # fmt: skip
FINAL_STATES = tuple(s.value for s in base.FINAL_STATES)
_FINAL = ", ".join(f"'{s}'" for s in FINAL_STATES)
_NOT_FINAL = ", ".join(f"'{s.value}'" for s in DeliveryState if s.value not in FINAL_STATES)

# ``{run_key}``: the backend's expression for the envelope's data.run.key (the run an event is
# linked to, see receiver/runs/track.py), so its run link goes with it without an index on
# run_events.event_id. ``{lock}``: PostgreSQL's row locks. Nor is an event deleted while it is a
# member of a group not yet sent (0009_groups.sql): the group's one delivery is rendered from its
# members when it is flushed. (A sent group's delivery belongs to its newest member, kept by the
# clause on deliveries while that delivery is not final; the group goes with its delivery.)
_IN_OPEN_GROUP = (
    "EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id "
    f"WHERE m.event_id = {{event}} AND g.state = '{OPEN}')"
)
_OLD_EVENTS = (
    "SELECT id, {run_key} FROM events e WHERE received_at < ? "
    f"AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state IN ({_NOT_FINAL})) "
    f"AND NOT {_IN_OPEN_GROUP.format(event='e.id')} "
    "ORDER BY received_at LIMIT ?{lock}"
)
# ``{ids}``: ``IN (?, …)`` on SQLite, ``= ANY(?)`` (one array) on PostgreSQL.
_FINAL_DELIVERIES = f"SELECT id FROM deliveries WHERE event_id {{ids}} AND state IN ({_FINAL}){{lock}}"
_DELETE_ATTEMPTS = "DELETE FROM attempts WHERE delivery_id {ids}"
_DELETE_DELIVERIES = "DELETE FROM deliveries WHERE id {ids}"
# An event that got a new delivery or joined a group meanwhile (a replay; PostgreSQL only: SQLite's
# batch holds the write lock throughout) keeps it and stays.
_DELETE_EVENTS = (
    "DELETE FROM events WHERE id {ids} AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id) "
    f"AND NOT {_IN_OPEN_GROUP.format(event='events.id')}"
)
_DELETE_KEYS = "DELETE FROM event_keys WHERE event_id {ids}"
_DELETE_LINK = "DELETE FROM run_events WHERE run_key = ? AND event_id = ?"
# Run keys are time-ordered (``time_floor_id``): the primary key finds the runs made before the
# horizon; of those, a run still updated since (a very long one) stays.
_OLD_RUNS = "SELECT key FROM runs WHERE key < ? AND updated_at < ? ORDER BY key LIMIT ?{lock}"
_DELETE_RUN_LINKS = "DELETE FROM run_events WHERE run_key {ids}"
_DELETE_RUNS = "DELETE FROM runs WHERE key {ids}"
# A pruned run's poll schedule and history (0008_polls.sql) go with it.
_DELETE_POLL_HISTORY = (
    "DELETE FROM poll_history WHERE (source_id, run_id) IN (SELECT source_id, run_id FROM polls WHERE run_key {ids})"
)
_DELETE_POLLS = "DELETE FROM polls WHERE run_key {ids}"


def time_floor_id(prefix: str, t: float) -> str:
    """The smallest id ``receiver.events.new_id(prefix, now)`` can make at or after time ``t``
    (its 12 hex digits of milliseconds, then the lowest random part)."""
    return f"{prefix}_{int(t * 1000):012x}{0:020x}"


class Pruned(Counter[str]):
    """Rows deleted, by table."""


class RetentionStore(Protocol):
    """What ``receiver/pruner.py`` needs of a store (``retention_ops`` adapts either backend)."""

    backend: str

    async def prune_events(self, before: float, limit: int) -> Pruned:
        """One batch: up to ``limit`` events received before ``before`` that no unfinished delivery needs."""

    async def prune_runs(self, before: float, limit: int) -> Pruned:
        """One batch: up to ``limit`` runs made and last updated before ``before``."""

    async def drop_sessions(self, now: float) -> Pruned: ...

    async def prune_side(self, table: str, before: float, limit: int) -> Pruned:
        """One batch of a side table (``retention_side.SIDE_TABLES``): up to ``limit`` rows over before ``before``."""

    async def reclaim(self, max_pages: int) -> int:
        """Give up to ``max_pages`` free pages back to the file system; the bytes given back (0 when
        there is nothing to give back, or the backend does not need it)."""

    async def reclaims_space(self) -> bool:
        """Whether ``reclaim`` can give space back (SQLite: the file is in incremental auto_vacuum)."""


def retention_ops(store: Any) -> RetentionStore:
    """The pruning operations of an open store (by its ``backend``)."""
    if store.backend == "sqlite":
        return SqliteRetention(store)
    if store.backend == "postgres":
        return PostgresRetention(store)
    raise ValueError(f"no pruning for the {store.backend!r} store")


# -- SQLite: each batch is one operation of the group-commit writer ---------------------------
def _marks(n: int) -> str:
    return f"IN ({', '.join('?' * n)})"


def _sqlite_prune_events(conn: sqlite3.Connection, before: float, limit: int) -> Pruned:
    sql = _OLD_EVENTS.format(run_key="json_extract(envelope, '$.data.run.key')", lock="")
    found = conn.execute(sql, (before, limit)).fetchall()
    out = Pruned()
    if not found:
        return out
    ids = [r[0] for r in found]
    doomed = [r[0] for r in conn.execute(_FINAL_DELIVERIES.format(ids=_marks(len(ids)), lock=""), ids)]
    if doomed:
        out["attempts"] = conn.execute(_DELETE_ATTEMPTS.format(ids=_marks(len(doomed))), doomed).rowcount
        out["deliveries"] = conn.execute(_DELETE_DELIVERIES.format(ids=_marks(len(doomed))), doomed).rowcount
    out["events"] = conn.execute(_DELETE_EVENTS.format(ids=_marks(len(ids))), ids).rowcount
    out["event_keys"] = conn.execute(_DELETE_KEYS.format(ids=_marks(len(ids))), ids).rowcount
    links = [(run_key, event_id) for event_id, run_key in found if run_key]
    if links:
        before_changes = conn.total_changes
        conn.executemany(_DELETE_LINK, links)
        out["run_events"] = conn.total_changes - before_changes
    return out


def _sqlite_prune_runs(conn: sqlite3.Connection, before: float, limit: int) -> Pruned:
    keys = [r[0] for r in conn.execute(_OLD_RUNS.format(lock=""), (time_floor_id("run", before), before, limit))]
    out = Pruned()
    if keys:
        out["run_events"] = conn.execute(_DELETE_RUN_LINKS.format(ids=_marks(len(keys))), keys).rowcount
        out["poll_history"] = conn.execute(_DELETE_POLL_HISTORY.format(ids=_marks(len(keys))), keys).rowcount
        out["polls"] = conn.execute(_DELETE_POLLS.format(ids=_marks(len(keys))), keys).rowcount
        out["runs"] = conn.execute(_DELETE_RUNS.format(ids=_marks(len(keys))), keys).rowcount
    return out


def _sqlite_reclaim(conn: sqlite3.Connection, max_pages: int) -> int:
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    steps = min(free, max_pages)
    # Python's sqlite3 steps a statement without result columns once, and each step of
    # incremental_vacuum frees one page: one execute per page (~30 µs each).
    for _ in range(steps):
        conn.execute("PRAGMA incremental_vacuum(1)")
    left = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    return (free - left) * int(conn.execute("PRAGMA page_size").fetchone()[0])


class SqliteRetention:
    backend = "sqlite"

    def __init__(self, store: Any) -> None:
        self.store = store

    async def prune_events(self, before: float, limit: int) -> Pruned:
        # Not durable: a power cut that undoes a delete only means the next pass deletes it again.
        result: Pruned = await self.store.write(lambda c: _sqlite_prune_events(c, before, limit), durable=False)
        return result

    async def prune_runs(self, before: float, limit: int) -> Pruned:
        result: Pruned = await self.store.write(lambda c: _sqlite_prune_runs(c, before, limit), durable=False)
        return result

    async def prune_side(self, table: str, before: float, limit: int) -> Pruned:
        n: int = await self.store.write(lambda c: drive_sqlite(c, prune_side(table, before, limit)), durable=False)
        return Pruned({table: n})

    async def drop_sessions(self, now: float) -> Pruned:
        n = await self.store.write(lambda c: c.execute(DROP_EXPIRED_SESSIONS, (now,)).rowcount, durable=False)
        return Pruned(web_sessions=n)

    async def reclaim(self, max_pages: int) -> int:
        freed: int = await self.store.write(lambda c: _sqlite_reclaim(c, max_pages), durable=False)
        return freed

    async def reclaims_space(self) -> bool:
        # 2 = INCREMENTAL. 0 (NONE): freed pages are reused for new rows, but the file never shrinks.
        mode = await self.store._read(lambda c: c.execute("PRAGMA auto_vacuum").fetchone()[0])
        return int(mode) == 2


# -- PostgreSQL: each batch is one READ COMMITTED transaction ---------------------------------
_ANY = "= ANY(?)"
_PG_LOCK_EVENTS = " FOR UPDATE OF e SKIP LOCKED"
_PG_OLD_EVENTS = pg(_OLD_EVENTS.format(run_key="envelope -> 'data' -> 'run' ->> 'key'", lock=_PG_LOCK_EVENTS))
# Their deliveries are locked and their state checked again under the lock (a retry of a dead
# delivery may have re-queued it since): only final ones are deleted.
_PG_FINAL_DELIVERIES = pg(_FINAL_DELIVERIES.format(ids=_ANY, lock=" FOR UPDATE"))
_PG_OLD_RUNS = pg(_OLD_RUNS.format(lock=" FOR UPDATE SKIP LOCKED"))
_PG = {name: pg(sql.format(ids=_ANY)) for name, sql in (
    ("attempts", _DELETE_ATTEMPTS), ("deliveries", _DELETE_DELIVERIES), ("events", _DELETE_EVENTS + " RETURNING id"),
    ("event_keys", _DELETE_KEYS), ("run_links", _DELETE_RUN_LINKS), ("runs", _DELETE_RUNS),
    ("poll_history", _DELETE_POLL_HISTORY), ("polls", _DELETE_POLLS),
)}  # fmt: skip


class PostgresRetention:
    backend = "postgres"

    def __init__(self, store: Any) -> None:
        self.store = store

    async def prune_events(self, before: float, limit: int) -> Pruned:
        async def op(conn: Any) -> Pruned:
            out = Pruned()
            cur = await conn.execute(_PG_OLD_EVENTS, (before, limit))
            found: Sequence[tuple[str, str | None]] = await cur.fetchall()
            if not found:
                return out
            ids = [r[0] for r in found]
            cur = await conn.execute(_PG_FINAL_DELIVERIES, (ids,))
            doomed = [r[0] for r in await cur.fetchall()]
            if doomed:
                out["attempts"] = (await conn.execute(_PG["attempts"], (doomed,))).rowcount
                out["deliveries"] = (await conn.execute(_PG["deliveries"], (doomed,))).rowcount
            cur = await conn.execute(_PG["events"], (ids,))
            gone = {r[0] for r in await cur.fetchall()}
            out["events"] = len(gone)
            out["event_keys"] = (await conn.execute(_PG["event_keys"], (list(gone),))).rowcount
            links = [(run_key, event_id) for event_id, run_key in found if run_key and event_id in gone]
            if links:
                cur = await conn.execute(
                    "DELETE FROM run_events r USING unnest(%s::text[], %s::text[]) AS l(run_key, event_id) "
                    "WHERE r.run_key = l.run_key AND r.event_id = l.event_id",
                    ([k for k, _ in links], [e for _, e in links]),
                )
                out["run_events"] = cur.rowcount
            return out

        result: Pruned = await self.store.write(op)
        return result

    async def prune_runs(self, before: float, limit: int) -> Pruned:
        async def op(conn: Any) -> Pruned:
            cur = await conn.execute(_PG_OLD_RUNS, (time_floor_id("run", before), before, limit))
            keys = [r[0] for r in await cur.fetchall()]
            out = Pruned()
            if keys:
                out["run_events"] = (await conn.execute(_PG["run_links"], (keys,))).rowcount
                out["poll_history"] = (await conn.execute(_PG["poll_history"], (keys,))).rowcount
                out["polls"] = (await conn.execute(_PG["polls"], (keys,))).rowcount
                out["runs"] = (await conn.execute(_PG["runs"], (keys,))).rowcount
            return out

        result: Pruned = await self.store.write(op)
        return result

    async def prune_side(self, table: str, before: float, limit: int) -> Pruned:
        steps = prune_side(table, before, limit, lock=" FOR UPDATE SKIP LOCKED")
        n: int = await self.store.write(lambda conn: drive_postgres(conn, steps))
        return Pruned({table: n})

    async def drop_sessions(self, now: float) -> Pruned:
        async def op(conn: Any) -> int:
            return int((await conn.execute(pg(DROP_EXPIRED_SESSIONS), (now,))).rowcount)

        return Pruned(web_sessions=await self.store.write(op))

    async def reclaim(self, max_pages: int) -> int:
        return 0  # autovacuum makes deleted rows' space reusable; the files are not shrunk

    async def reclaims_space(self) -> bool:
        return True
