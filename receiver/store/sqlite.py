"""SQLite backend: WAL, ``synchronous=FULL``, one group-commit writer thread.

``synchronous=FULL`` makes every commit fsync the WAL, so an acknowledged event
survives power loss as well as ``kill -9`` (NORMAL survives only a process crash).
The group-commit writer shares each fsync among all events that arrived meanwhile.
Reads use their own connections in worker threads; WAL lets them run beside writes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from receiver.store.base import EventQuery, EventRow, NewDelivery, NewEvent, SaveResult
from receiver.store.migrate import migrations
from receiver.store.writer import GroupCommitWriter

T = TypeVar("T")

_EVENT_COLUMNS = (
    "id, source_id, kind, type, subject, received_at, body, headers, envelope, normalize_error, "
    "parent_id, correlation_id, depth, rules_version, matched_rules"
)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _event_row(r: Sequence[Any]) -> EventRow:
    return EventRow(
        id=r[0],
        source_id=r[1],
        kind=r[2],
        type=r[3],
        subject=r[4],
        received_at=r[5],
        body=bytes(r[6]),
        headers=json.loads(r[7]),
        envelope=json.loads(r[8]),
        normalize_error=r[9],
        parent_id=r[10],
        correlation_id=r[11],
        depth=r[12],
        rules_version=r[13],
        matched_rules=json.loads(r[14]),
    )


class SqliteStore:
    """The embedded default store. ``path`` is a file path (``:memory:`` is refused:
    the writer and readers need one shared file)."""

    backend = "sqlite"

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self.clock = clock
        self._writer = GroupCommitWriter(lambda: _connect(self.path))
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------
    async def open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._migrate)
        self._writer.start()

    async def close(self) -> None:
        await asyncio.to_thread(self._writer.stop)
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def _migrate(self) -> None:
        conn = _connect(self.path)
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)"
            )
            done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations("sqlite"):
                if version in done:
                    continue
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in sql.split(";\n"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, self.clock())
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        finally:
            conn.close()

    # -- plumbing --------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(lambda: fn(self._reader()))

    async def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` inside the next group-commit transaction; returns once committed."""
        result: T = await self._writer.submit(op)
        return result

    @property
    def stats(self) -> dict[str, int]:
        return {"batches": self._writer.batches, "ops": self._writer.ops}

    # -- events ----------------------------------------------------------------------
    async def ping(self) -> None:
        await self.write(lambda conn: conn.execute("SELECT 1").fetchone())

    async def save_event(self, event: NewEvent, deliveries: Sequence[NewDelivery] = ()) -> SaveResult:
        return await self.write(lambda conn: self._save_event(conn, event, deliveries))

    def _save_event(
        self, conn: sqlite3.Connection, ev: NewEvent, deliveries: Sequence[NewDelivery]
    ) -> SaveResult:
        for key in ev.dedupe_keys:
            row = conn.execute(
                "SELECT event_id FROM event_keys WHERE source_id = ? AND key = ?", (ev.source_id, key)
            ).fetchone()
            if row:
                return SaveResult(row[0], True)
        if ev.dedupe_window > 0:
            row = conn.execute(
                "SELECT id FROM events WHERE source_id = ? AND body_sha256 = ? AND received_at >= ? "
                "ORDER BY received_at LIMIT 1",
                (ev.source_id, ev.body_sha256, ev.received_at - ev.dedupe_window),
            ).fetchone()
            if row:
                return SaveResult(row[0], True)
        conn.execute(
            "INSERT INTO events (id, source_id, kind, type, subject, received_at, body_sha256, headers, body, "
            "envelope, normalize_error, parent_id, correlation_id, depth, rules_version, matched_rules) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ev.id,
                ev.source_id,
                ev.kind,
                ev.type,
                ev.subject,
                ev.received_at,
                ev.body_sha256,
                json.dumps(ev.headers),
                ev.body,
                json.dumps(ev.envelope),
                ev.normalize_error,
                ev.parent_id,
                ev.correlation_id,
                ev.depth,
                ev.rules_version,
                json.dumps(ev.matched_rules),
            ),
        )
        conn.executemany(
            "INSERT INTO event_keys (source_id, key, event_id) VALUES (?, ?, ?)",
            [(ev.source_id, key, ev.id) for key in ev.dedupe_keys],
        )
        self._insert_deliveries(conn, ev.id, ev.received_at, deliveries)
        return SaveResult(ev.id, False)

    def _insert_deliveries(
        self, conn: sqlite3.Connection, event_id: str, now: float, deliveries: Sequence[NewDelivery]
    ) -> None:
        conn.executemany(
            "INSERT INTO deliveries (id, event_id, rule, action_index, sink_id, emit, params, state, attempts, "
            "created_at, updated_at, next_attempt_at, last_error, ordering_key, ordering_time, replay_of) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    d.id,
                    event_id,
                    d.rule,
                    d.action_index,
                    d.sink_id,
                    d.emit,
                    None if d.params is None else json.dumps(d.params),
                    d.state.value,
                    now,
                    now,
                    now,
                    d.last_error,
                    d.ordering_key,
                    now if d.ordering_key else None,
                    d.replay_of,
                )
                for d in deliveries
            ],
        )

    async def get_event(self, event_id: str) -> EventRow | None:
        def q(conn: sqlite3.Connection) -> EventRow | None:
            r = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
            return _event_row(r) if r else None

        return await self._read(q)

    async def list_events(self, query: EventQuery) -> list[EventRow]:
        where, args = [], []  # type: ignore[var-annotated]
        if query.source:
            where.append("source_id = ?")
            args.append(query.source)
        if query.type:
            where.append("type = ?")
            args.append(query.type)
        if query.since is not None:
            where.append("received_at >= ?")
            args.append(query.since)
        if query.before_id:
            where.append("id < ?")
            args.append(query.before_id)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY received_at DESC, id DESC LIMIT ?"
        args.append(query.limit)

        def q(conn: sqlite3.Connection) -> list[EventRow]:
            return [_event_row(r) for r in conn.execute(sql, args)]

        return await self._read(q)

    async def count_events(self) -> int:
        return await self._read(lambda conn: int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]))
