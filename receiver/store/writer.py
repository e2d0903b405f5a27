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

The writer never waits forever and never dies quietly:

- a write that has not got the lock ``busy_timeout`` seconds after it was submitted
  fails with :class:`StoreBusy` (nothing of it was written: BEGIN never succeeded), and
  the writer carries on with the rest; so does ``stop``, which is thereby bounded too.
- if one of its tasks ends for any other reason (an unexpected error), every waiting
  write fails with :class:`StoreUnavailable`, later ones are refused at once, and the
  ``on_failure`` callback is told (the daemon then exits non-zero for its supervisor).
- the fsync runs in a worker thread, as above.
- WAL checkpoints are switched off on this connection and run by a separate task in a
  worker thread on its own connection.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from receiver.errors import StoreBusy, StoreUnavailable
from receiver.store.base import DEFAULT_BUSY_TIMEOUT

Op = Callable[[sqlite3.Connection], Any]
# (operation, its result, wait for the fsync?, monotonic time after which it stops waiting for the lock)
Item = tuple[Op, "asyncio.Future[Any]", bool, float]
Outcome = tuple[Any, BaseException | None]

log = logging.getLogger("hookyard.store")

CHECKPOINT_EVERY_SECONDS = 1.0
# How long ``stop`` waits for committed writes to reach the disk before giving up on them.
STOP_FSYNC_GRACE_SECONDS = 10.0
_LOCK_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def is_lock_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds the lock this statement needed."""
    return getattr(exc, "sqlite_errorcode", None) in _LOCK_BUSY


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        wal_path: str,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        max_batch: int = 1024,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._busy_timeout = busy_timeout
        self._wal_path = wal_path
        self._wal_fd: int | None = None
        self._max_batch = max_batch
        self._checkpoint = checkpoint
        self._conn: sqlite3.Connection | None = None
        self._pending: list[Item] = []
        self._wakeup: asyncio.Event | None = None
        # Committed, not yet known to be on disk: settled by the next fsync.
        self._unsynced: list[list[tuple[Item, Outcome]]] = []
        # Taken from the queue, not yet answered: the batch being run, the batches being fsynced.
        self._in_hand: list[Item] = []
        self._syncing: list[list[tuple[Item, Outcome]]] = []
        self._sync_wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = False
        self._stopping = False
        self.failure: str | None = None  # why the writer stopped working, once it has
        self.on_failure: Callable[[str], None] | None = None
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
        for task in self._tasks:
            task.add_done_callback(self._task_ended)

    async def stop(self) -> None:
        if not self._tasks:
            return
        # Everything submitted is durable (or refused) before closing: queued writes get the
        # lock or time out (``busy_timeout``), committed ones wait for their fsync (bounded).
        limit = self._busy_timeout + STOP_FSYNC_GRACE_SECONDS
        deadline = time.monotonic() + limit
        while (self._pending or self._in_hand or self._unsynced or self._syncing) and self.failure is None:
            if time.monotonic() > deadline:
                log.error("SQLite writer: writes still unfinished %g s after shutdown began; failing them", limit)
                break
            assert self._wakeup is not None and self._sync_wakeup is not None
            self._wakeup.set()
            self._sync_wakeup.set()
            await asyncio.sleep(0.001)
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)  # a failed one was reported already
        self._tasks = []
        self._fail_waiting(StoreUnavailable("the store is shutting down; nothing was stored"))
        self._rollback()
        if self._checkpoint is not None and self._dirty and self.failure is None:
            try:
                await asyncio.to_thread(self._checkpoint)
            except sqlite3.Error as exc:  # the next start checkpoints what is left
                log.warning("SQLite WAL checkpoint at shutdown failed: %s", exc)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

    async def submit(self, op: Op, *, durable: bool = True) -> Any:
        """Run ``op`` in the next batch. Returns once committed and, if ``durable``, once on
        disk; without it a power cut may undo the write (a process crash does not)."""
        if self.failure is not None:
            raise StoreUnavailable(self.failure)
        if not self._tasks or self._wakeup is None:
            raise RuntimeError("store is not open")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, fut, durable, time.monotonic() + self._busy_timeout))
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
                if not await self._begin(self._pending):
                    continue  # everything waiting was refused (store busy)
                # Everything that arrived while waiting for the lock joins this batch.
                batch = self._in_hand = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if not self._run_batch(batch):
                    await self._run_singly(batch)
                self._in_hand = []

    async def _begin(self, waiting: list[Item]) -> bool:
        """Open a write transaction for ``waiting`` (a list that may grow meanwhile). Writes
        that wait longer than ``busy_timeout`` are taken out of it and fail with StoreBusy;
        False when none is left. Errors other than a busy lock propagate (the writer dies)."""
        conn = self._conn
        assert conn is not None
        delay = 0.001
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as exc:
                if not is_lock_busy(exc):
                    raise
            now = time.monotonic()
            if any(item[3] <= now for item in waiting):
                expired = [item for item in waiting if item[3] <= now]
                waiting[:] = [item for item in waiting if item[3] > now]
                log.warning(
                    "SQLite write lock held by another process for over %g s: %d write(s) refused (store_busy)",
                    self._busy_timeout,
                    len(expired),
                )
                self._settle([(item, (None, self._busy_error())) for item in expired])
                if not waiting:
                    return False
            await asyncio.sleep(delay)
            # Another process's transaction lasts a few milliseconds (with server.processes
            # the dispatcher's and the receivers' alternate all the time): poll at that scale,
            # a failed BEGIN costs microseconds. A 50 ms cap left the lock idle for most of it.
            delay = min(delay * 2, 0.005)

    def _busy_error(self) -> StoreBusy:
        return StoreBusy(
            f"the store is busy: another process has held its write lock for over {self._busy_timeout:g} s; "
            "nothing was stored, retry later",
            retry_after=max(1, math.ceil(self._busy_timeout)),
        )

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
            if not await self._begin([item]):
                continue  # refused: store busy
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
                ready = self._syncing = self._unsynced
                self._unsynced = []
                try:
                    await asyncio.to_thread(self._fsync_wal)
                except OSError as exc:
                    # The disk refused: whether these writes survive a power cut is unknown,
                    # so nobody is told they are stored (senders retry; redeliveries dedupe).
                    log.error("fsync of the SQLite WAL failed: %s", exc)
                    for pairs in ready:
                        self._settle([(item, (None, exc)) for item, _ in pairs])
                    self._syncing = []
                    continue
                for pairs in ready:
                    self._settle(pairs)
                self._syncing = []

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
        try:
            if conn is not None and conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:  # e.g. after the writer failed; the connection is closed next
            log.warning("SQLite rollback failed: %s", exc)

    def _settle(self, done: list[tuple[Item, Outcome]]) -> None:
        for (_, fut, _, _), (result, error) in done:
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A writer task ended. Unless ``stop`` ended it, that is a failure: nothing could be
        written any more, so everyone waiting is told now and the owner is called."""
        if self._stopping or self.failure is not None:
            return
        exc = None if task.cancelled() else task.exception()
        why = f"{type(exc).__name__}: {exc}" if exc is not None else "it was cancelled"
        self.failure = f"the SQLite writer stopped ({task.get_name()}: {why})"
        for other in self._tasks:
            other.cancel()
        self._fail_waiting(StoreUnavailable(self.failure))
        if self.on_failure is not None:
            self.on_failure(self.failure)

    def _fail_waiting(self, error: StoreUnavailable) -> None:
        """Answer every write not yet answered: queued ones were never run; committed ones
        are not known to be on disk, so (as after a failed fsync) nobody is told they are."""
        taken = [*self._in_hand, *self._pending]
        unsynced = [*self._syncing, *self._unsynced]
        self._in_hand, self._pending, self._syncing, self._unsynced = [], [], [], []
        self._settle([(item, (None, error)) for item in taken])
        for pairs in unsynced:
            self._settle([(item, (None, error)) for item, _ in pairs])

    async def _checkpoints(self) -> None:
        assert self._checkpoint is not None
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_SECONDS)
            if self._dirty:
                self._dirty = False
                try:
                    await asyncio.to_thread(self._checkpoint)
                except sqlite3.Error as exc:
                    log.warning("SQLite WAL checkpoint failed: %s; retrying later", exc)
                    self._dirty = True
