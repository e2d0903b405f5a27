"""Group commit: one thread owns the SQLite write connection.

Request handlers submit small write operations and await them. The writer drains
everything queued, runs it in ONE transaction (each operation in its own savepoint,
so one failing operation does not sink its neighbours), commits once, and only then
resolves the waiting futures. Under concurrency many events share one fsync, which is
what keeps throughput from collapsing with ``synchronous=FULL``.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Op = Callable[[sqlite3.Connection], Any]


@dataclass
class _Job:
    op: Op
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # the caller went away (client disconnect); the write still happened
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class GroupCommitWriter:
    def __init__(self, connect: Callable[[], sqlite3.Connection], *, max_batch: int = 512) -> None:
        self._connect = connect
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.ops = 0

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                conn = self._connect()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                self._loop(conn)
            finally:
                conn.close()

        self._thread = threading.Thread(target=run, name="hookyard-sqlite-writer", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    async def submit(self, op: Op) -> Any:
        if self._thread is None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(op, loop, fut))
        # Shield: a cancelled request must not cancel the shared future; the write goes on.
        return await asyncio.shield(fut)

    def _loop(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
            self._run_batch(conn, jobs)
            if stop:
                return

    def _run_batch(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        results: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                conn.execute("SAVEPOINT op")
                try:
                    results.append((job.op(conn), None))
                    conn.execute("RELEASE op")
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append((None, exc))
            conn.execute("COMMIT")
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            results = [(None, exc)] * len(jobs)
        self.batches += 1
        self.ops += len(jobs)
        for job, (result, error) in zip(jobs, results, strict=True):
            try:
                job.loop.call_soon_threadsafe(_settle, job.future, result, error)
            except RuntimeError:  # that event loop is closed; nobody waits any more
                pass
