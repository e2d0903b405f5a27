"""SQLite backend: WAL, durable commits, one group-commit writer.

Every write is on disk (the WAL fsynced) before it is acknowledged, so an acknowledged
event survives power loss as well as ``kill -9``: ``synchronous=FULL`` on every
connection, except that the group-commit writer does the fsync itself, pipelined
behind its commits (see ``writer.py``), sharing each fsync among all events that
arrived meanwhile.
Reads use their own connections in worker threads; WAL lets them run beside writes.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from receiver import jsonutil
from receiver.errors import StoreUnavailable
from receiver.store import dedupe, runs_history, sql
from receiver.store.base import (
    DEFAULT_BUSY_TIMEOUT,
    EventQuery,
    EventRow,
    NewDelivery,
    NewEvent,
    SaveResult,
    ignore_timing,
)
from receiver.store.groups import SqliteGroups
from receiver.store.migrate import migrations
from receiver.store.noise_store import SqliteNoise
from receiver.store.polls_backends import SqlitePolls
from receiver.store.rows import event_args, event_row
from receiver.store.runs import RunStep
from receiver.store.runs_sqlite import SqliteRuns, apply_run
from receiver.store.sqlite_queue import SqliteQueue, insert_deliveries
from receiver.store.sqlite_web import SqliteWeb
from receiver.store.steps import drive_sqlite
from receiver.store.writer import GroupCommitWriter, is_lock_busy

T = TypeVar("T")


def _connect(path: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> sqlite3.Connection:
    # ``timeout``: how long a statement waits for a lock another process holds (then "database
    # is locked"); the same bound as the writer's, so no connection waits longer than it.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
    # Only takes on a new file, and only before WAL mode (an older file: `hookyard db vacuum`).
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # pruned space goes back to the disk (retention.py)
    # Switching a new file to WAL fails at once ("database is locked", no busy wait) while
    # another process opens it too: two daemons starting together. Retry for a while.
    for attempt in range(100):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def open_error(path: str, exc: Exception) -> StoreUnavailable:
    """One line saying why the SQLite file cannot be opened. A dangling symlink or a file on
    the way to it is named (``mkdir`` says only "File exists")."""
    where = Path(path).absolute()
    shown = str(where)
    for folder in where.parents:
        if folder.is_symlink() and not folder.exists():
            target = os.readlink(folder)
            return StoreUnavailable(
                f"cannot open the SQLite store {shown}: {folder} is a symlink to {target}, which does not exist"
            )
        if folder.exists() and not folder.is_dir():
            return StoreUnavailable(f"cannot open the SQLite store {shown}: {folder} is not a folder")
    if where.is_dir():
        return StoreUnavailable(f"cannot open the SQLite store {shown}: it is a folder, not a database file")
    if isinstance(exc, sqlite3.Error) and is_lock_busy(exc):
        return StoreUnavailable(f"cannot open the SQLite store {shown}: another process holds its write lock")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    detail = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename and exc.filename != shown else ""
    return StoreUnavailable(f"cannot open the SQLite store {shown}: {reason}{detail}")


class SqliteStore(SqliteQueue, SqliteWeb, SqliteRuns, SqliteNoise, SqliteGroups, SqlitePolls):
    """The embedded default store. ``path`` is a file path (``:memory:`` is refused:
    the writer and readers need one shared file)."""

    backend = "sqlite"

    def __init__(
        self, path: str | Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self.path = str(path)
        self.clock = clock
        self.busy_timeout = busy_timeout
        self.observe_write: Callable[[float], None] = ignore_timing  # write latency, for /metrics
        self._writer = GroupCommitWriter(
            self._connect, self.path + "-wal", busy_timeout=busy_timeout, checkpoint=self._checkpoint
        )
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------
    async def open(self) -> None:
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(self._migrate)
            await self._writer.start()
        except (OSError, sqlite3.Error) as exc:
            raise open_error(self.path, exc) from None

    def on_failure(self, callback: Callable[[str], None]) -> None:
        self._writer.on_failure = callback

    def _connect(self) -> sqlite3.Connection:
        return _connect(self.path, self.busy_timeout)

    async def close(self) -> None:
        await self._writer.stop()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def _migrate(self) -> None:
        conn = self._connect()
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
                    # Another process may have applied it while we waited for the write lock.
                    if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                        conn.execute("COMMIT")
                        continue
                    for statement in sql.split(";\n"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, self.clock()))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        finally:
            conn.close()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file (in a worker thread, off the event loop)."""
        conn = self._connect()
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    # -- plumbing --------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(lambda: fn(self._reader()))

    async def write(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``op`` inside the next group-commit transaction; returns once committed and
        (``durable``) on disk. See ``GroupCommitWriter.submit``."""
        started = time.perf_counter()
        result: T = await self._writer.submit(op, durable=durable)
        self.observe_write(time.perf_counter() - started)
        return result

    @property
    def stats(self) -> dict[str, int]:
        return {"batches": self._writer.batches, "ops": self._writer.ops}

    # -- events ----------------------------------------------------------------------
    async def ping(self) -> None:
        await self.write(lambda conn: conn.execute("SELECT 1").fetchone())

    async def save_event(
        self, event: NewEvent, deliveries: Sequence[NewDelivery] = (), *, run: RunStep | None = None
    ) -> SaveResult:
        return await self.write(lambda conn: self._save_event(conn, event, deliveries, run))

    def _save_event(
        self, conn: sqlite3.Connection, ev: NewEvent, deliveries: Sequence[NewDelivery], run: RunStep | None = None
    ) -> SaveResult:
        original = drive_sqlite(conn, dedupe.original(ev))
        if original is not None:
            return SaveResult(original, True)
        if run is not None:  # behind the redelivery check: a redelivery changes no run
            applied = apply_run(conn, ev, run)
            if isinstance(applied, str):  # a transition the run went through already: not stored
                drive_sqlite(conn, dedupe.release(ev))
                return SaveResult(applied, True)
            ev, deliveries = applied
        if ev.deployment is not None:  # a deployment.success event (runs/deployment.py)
            runs_history.record_sqlite(conn, ev.deployment)
        conn.execute(sql.INSERT_EVENT, event_args(ev))
        opened = insert_deliveries(conn, ev.id, ev.received_at, deliveries) if deliveries else 0
        return SaveResult(ev.id, False, opened)

    async def get_event(self, event_id: str) -> EventRow | None:
        def q(conn: sqlite3.Connection) -> EventRow | None:
            r = conn.execute(sql.GET_EVENT, (event_id,)).fetchone()
            return event_row(r, jsonutil.loads) if r else None

        return await self._read(q)

    async def children(self, event_id: str, limit: int) -> list[EventRow]:
        return await self._read(
            lambda conn: [event_row(r, jsonutil.loads) for r in conn.execute(sql.CHILDREN, (event_id, limit))]
        )

    async def list_events(self, query: EventQuery) -> list[EventRow]:
        text, args = sql.SQLITE.list_events(query)
        return await self._read(lambda conn: [event_row(r, jsonutil.loads) for r in conn.execute(text, args)])

    async def count_events(self) -> int:
        return await self._read(lambda conn: int(conn.execute(sql.COUNT_EVENTS).fetchone()[0]))
