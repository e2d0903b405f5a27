"""Group commit on one SQLite connection, driven from the event loop.

Request handlers submit small write operations and await them. The committer takes
everything queued, runs it in ONE transaction, commits once, and only then resolves
the waiting futures. If any operation fails, the batch is rolled back and each
operation runs again in a transaction of its own, so one failing operation never
sinks its neighbours (and per-operation savepoints are not paid on the common path).
Under concurrency many events share one fsync, which is what keeps throughput from
collapsing with ``synchronous=FULL``.

The statements run on the event-loop thread: each takes microseconds, and running them
in a second thread would make every one wait for the GIL (up to the 5 ms switch
interval) whenever the loop is busy. What could block the loop is kept off it:

- ``BEGIN IMMEDIATE`` waits for the write lock only when another process holds it
  (a CLI command, a second daemon). The writer connection has ``busy_timeout=0`` and
  retries with ``asyncio.sleep``, so the loop keeps serving meanwhile.
- ``COMMIT`` (the fsync) runs in a worker thread: one thread hop per batch, and the
  loop keeps handling requests, whose writes queue up for the next batch.
- WAL checkpoints are switched off on this connection and run by a separate task in a
  worker thread on its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

Op = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("hookyard.store")

LOCK_WAIT_SECONDS = 30.0
CHECKPOINT_EVERY_SECONDS = 1.0


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        max_batch: int = 1024,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._max_batch = max_batch
        self._checkpoint = checkpoint
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = False
        self.batches = 0
        self.ops = 0

    async def start(self) -> None:
        conn = await asyncio.to_thread(self._connect)
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn = conn
        self._wakeup = asyncio.Event()
        self._tasks = [asyncio.create_task(self._run(), name="hookyard-sqlite-writer")]
        if self._checkpoint is not None:
            self._tasks.append(asyncio.create_task(self._checkpoints(), name="hookyard-sqlite-checkpoint"))

    async def stop(self) -> None:
        if not self._tasks:
            return
        while self._pending:  # everything submitted is committed before closing
            assert self._wakeup is not None
            self._wakeup.set()
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

    async def submit(self, op: Op) -> Any:
        if not self._tasks or self._wakeup is None:
            raise RuntimeError("store is not open")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, fut))
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
                if not await self._run_batch(batch):
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
            delay = min(delay * 2, 0.05)

    async def _run_batch(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> bool:
        """Run the batch in the open transaction and commit. False (rolled back, nothing
        settled) when an operation failed: the caller then runs each one on its own."""
        conn = self._conn
        assert conn is not None
        results: list[Any] = []
        try:
            for op, _ in batch:
                results.append(op(conn))
        except Exception:
            self._rollback()
            return False
        try:
            # The fsync runs off the loop; the loop keeps serving (new writes queue up).
            await asyncio.to_thread(conn.execute, "COMMIT")
        except Exception:
            self._rollback()
            return False
        self._dirty = True
        self._settle(batch, [(r, None) for r in results])
        return True

    async def _run_singly(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
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
                self._settle([item], [(None, exc)])
            else:
                self._dirty = True
                self._settle([item], [(result, None)])

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed")

    def _settle(
        self, batch: list[tuple[Op, asyncio.Future[Any]]], results: list[tuple[Any, BaseException | None]]
    ) -> None:
        self.batches += 1
        self.ops += len(batch)
        for (_, fut), (result, error) in zip(batch, results, strict=True):
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
