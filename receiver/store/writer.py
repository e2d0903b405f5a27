"""Group commit on one SQLite connection, driven from the event loop, with the fsync
pipelined behind it.

Request handlers submit small write operations and await them. The committer takes
everything queued, runs it in ONE transaction and commits; the futures resolve only
once an fsync of the WAL that started after that commit has finished. If any
operation fails, the batch is rolled back and each operation runs again in a
transaction of its own, so one failing operation never sinks its neighbours (and
per-operation savepoints are not paid on the common path).

Durability is that of ``synchronous=FULL`` (an acknowledged write survives power loss),
but the fsync is not inside COMMIT: this connection runs ``synchronous=NORMAL`` (COMMIT
writes the WAL frames, no fsync) and a separate task fsyncs the WAL file in a worker
thread, then settles every batch committed before that fsync began. So the loop never
waits for the disk and the next batches commit while the previous fsync is under way;
one fsync covers every batch committed before it. (With the fsync inside COMMIT, each
batch waited for its own fsync plus two thread hand-offs, and 64 clients spent most
of their time waiting: bench/ingest_bench.py.) SQLite names the WAL file
``<database>-wal``; frames once synced are never rewritten until a later transaction,
and checkpoints (on another connection, ``synchronous=FULL``) sync before copying.

The statements run on the event-loop thread: each takes microseconds, and running them
in a second thread would make every one wait for the GIL (up to the 5 ms switch
interval) whenever the loop is busy. What could block the loop is kept off it:

- ``BEGIN IMMEDIATE`` waits for the write lock only when another process holds it
  (a CLI command, a second daemon). The writer connection has ``busy_timeout=0`` and
  retries with ``asyncio.sleep``, so the loop keeps serving meanwhile.
- the fsync runs in a worker thread, as above.
- WAL checkpoints are switched off on this connection and run by a separate task in a
  worker thread on its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

Op = Callable[[sqlite3.Connection], Any]
Item = tuple[Op, "asyncio.Future[Any]", bool]  # (operation, its result, wait for the fsync?)
Outcome = tuple[Any, BaseException | None]

log = logging.getLogger("hookyard.store")

LOCK_WAIT_SECONDS = 30.0
CHECKPOINT_EVERY_SECONDS = 1.0


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        wal_path: str,
        *,
        max_batch: int = 1024,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._wal_path = wal_path
        self._wal_fd: int | None = None
        self._max_batch = max_batch
        self._checkpoint = checkpoint
        self._conn: sqlite3.Connection | None = None
        self._pending: list[Item] = []
        self._wakeup: asyncio.Event | None = None
        # Committed, not yet known to be on disk: settled by the next fsync.
        self._unsynced: list[list[tuple[Item, Outcome]]] = []
        self._sync_wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = False
        self.batches = 0  # transactions committed, and the operations in them
        self.ops = 0

    async def start(self) -> None:
        conn = await asyncio.to_thread(self._connect)
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("PRAGMA synchronous=NORMAL")  # the fsync is ours: see the module docstring
        self._conn = conn
        self._wakeup = asyncio.Event()
        self._sync_wakeup = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._run(), name="hookyard-sqlite-writer"),
            asyncio.create_task(self._sync_loop(), name="hookyard-sqlite-fsync"),
        ]
        if self._checkpoint is not None:
            self._tasks.append(asyncio.create_task(self._checkpoints(), name="hookyard-sqlite-checkpoint"))

    async def stop(self) -> None:
        if not self._tasks:
            return
        while self._pending or self._unsynced:  # everything submitted is durable before closing
            assert self._wakeup is not None and self._sync_wakeup is not None
            self._wakeup.set()
            self._sync_wakeup.set()
            await asyncio.sleep(0.001)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._checkpoint is not None and self._dirty:
            await asyncio.to_thread(self._checkpoint)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

    async def submit(self, op: Op, *, durable: bool = True) -> Any:
        """Run ``op`` in the next batch. Returns once committed and, if ``durable``, once on
        disk; without it a power cut may undo the write (a process crash does not)."""
        if not self._tasks or self._wakeup is None:
            raise RuntimeError("store is not open")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, fut, durable))
        self._wakeup.set()
        # A cancelled request (client gone) cancels only this future; the queued write still
        # runs, and the writer skips futures that are already done.
        return await fut

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._begin()
                # Everything that arrived while waiting for the lock joins this batch.
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if not self._run_batch(batch):
                    await self._run_singly(batch)

    async def _begin(self) -> None:
        conn = self._conn
        assert conn is not None
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.001
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            # Another process's transaction lasts a few milliseconds (with server.processes
            # the dispatcher's and the receivers' alternate all the time): poll at that scale,
            # a failed BEGIN costs microseconds. A 50 ms cap left the lock idle for most of it.
            delay = min(delay * 2, 0.005)

    def _run_batch(self, batch: list[Item]) -> bool:
        """Run the batch in the open transaction and commit (no fsync: that is queued).
        False (rolled back, nothing settled) when an operation failed: the caller then
        runs each one on its own."""
        conn = self._conn
        assert conn is not None
        done: list[tuple[Item, Outcome]] = []
        try:
            for item in batch:
                done.append((item, (item[0](conn), None)))
            conn.execute("COMMIT")
        except Exception:
            self._rollback()
            return False
        self._committed(done)
        return True

    async def _run_singly(self, batch: list[Item]) -> None:
        """The slow path after a failed batch: one transaction per operation, so only the
        failing one fails (and its partial writes are rolled back)."""
        conn = self._conn
        assert conn is not None
        for item in batch:
            await self._begin()
            try:
                result = item[0](conn)
                conn.execute("COMMIT")
            except Exception as exc:
                self._rollback()
                self._settle([(item, (None, exc))])  # nothing was written: no fsync to wait for
            else:
                self._committed([(item, (result, None))])

    def _committed(self, done: list[tuple[Item, Outcome]]) -> None:
        assert self._sync_wakeup is not None
        self._dirty = True
        self.batches += 1
        self.ops += len(done)
        # Writes that need not wait for the disk (leases, attempt records) are answered now.
        self._settle([pair for pair in done if not pair[0][2]])
        waiting = [pair for pair in done if pair[0][2]]
        if waiting:
            self._unsynced.append(waiting)
            self._sync_wakeup.set()

    async def _sync_loop(self) -> None:
        """fsync the WAL whenever commits are waiting for it; each fsync settles every
        batch committed before it began (later ones wait for the next)."""
        assert self._sync_wakeup is not None
        while True:
            await self._sync_wakeup.wait()
            self._sync_wakeup.clear()
            while self._unsynced:
                ready, self._unsynced = self._unsynced, []
                try:
                    await asyncio.to_thread(self._fsync_wal)
                except OSError as exc:
                    # The disk refused: whether these writes survive a power cut is unknown,
                    # so nobody is told they are stored (senders retry; redeliveries dedupe).
                    log.error("fsync of the SQLite WAL failed: %s", exc)
                    for pairs in ready:
                        self._settle([(item, (None, exc)) for item, _ in pairs])
                    continue
                for pairs in ready:
                    self._settle(pairs)

    def _fsync_wal(self) -> None:
        """fdatasync the WAL file (reopened if SQLite replaced it since the last time)."""
        fd = self._wal_fd
        if fd is None or os.fstat(fd).st_ino != os.stat(self._wal_path).st_ino:
            if fd is not None:
                os.close(fd)
                self._wal_fd = None
            fd = self._wal_fd = os.open(self._wal_path, os.O_RDONLY)
        os.fdatasync(fd)

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed")

    def _settle(self, done: list[tuple[Item, Outcome]]) -> None:
        for (_, fut, _), (result, error) in done:
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

    async def _checkpoints(self) -> None:
        assert self._checkpoint is not None
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_SECONDS)
            if self._dirty:
                self._dirty = False
                try:
                    await asyncio.to_thread(self._checkpoint)
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; retrying later")
                    self._dirty = True
