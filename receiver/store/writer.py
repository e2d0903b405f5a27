"""Group commit on one SQLite connection.

Request handlers submit small write operations and await them. The committer takes
everything queued, runs it in ONE transaction (each operation in its own savepoint,
so one failing operation does not sink its neighbours), commits once, and only then
resolves the waiting futures. Under concurrency many events share one fsync, which is
what keeps throughput from collapsing with ``synchronous=FULL``.

The statements run on the event-loop thread: each takes microseconds, and running
them in a second thread would make every one of them wait for the GIL (up to the
5 ms switch interval) while the loop is busy. Only the calls that can block —
``BEGIN IMMEDIATE`` (another process may hold the write lock) and ``COMMIT`` (the
fsync, the WAL checkpoint) — go to a worker thread; operations submitted meanwhile
queue up for the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

Op = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("hookyard.store")


class GroupCommitWriter:
    def __init__(self, connect: Callable[[], sqlite3.Connection], *, max_batch: int = 1024) -> None:
        self._connect = connect
        self._max_batch = max_batch
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.ops = 0

    async def start(self) -> None:
        self._conn = await asyncio.to_thread(self._connect)
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="hookyard-sqlite-writer")

    async def stop(self) -> None:
        if self._task is None:
            return
        while self._pending:  # everything submitted is committed before closing
            assert self._wakeup is not None
            self._wakeup.set()
            await asyncio.sleep(0.001)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)
            self._conn = None

    async def submit(self, op: Op) -> Any:
        if self._task is None or self._wakeup is None:
            raise RuntimeError("store is not open")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, fut))
        self._wakeup.set()
        # Shield: a cancelled request (client gone) must not cancel the write itself.
        return await asyncio.shield(fut)

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._run_batch(batch)

    async def _run_batch(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        conn = self._conn
        assert conn is not None
        results: list[tuple[Any, BaseException | None]] = []
        try:
            await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
            for op, _ in batch:
                conn.execute("SAVEPOINT op")
                try:
                    results.append((op(conn), None))
                    conn.execute("RELEASE op")
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append((None, exc))
            await asyncio.to_thread(conn.execute, "COMMIT")
        except BaseException as exc:  # the whole batch failed: nobody may be told it is stored
            if conn.in_transaction:
                try:
                    await asyncio.to_thread(conn.execute, "ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed")
            results = [(None, exc)] * len(batch)
            if isinstance(exc, asyncio.CancelledError):
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(RuntimeError("store is closing"))
                raise
        self.batches += 1
        self.ops += len(batch)
        for (_, fut), (result, error) in zip(batch, results, strict=True):
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
