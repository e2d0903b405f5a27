"""The loop that works through leased store rows: claim what is due, work on each row in a
task of its own, at most a capacity at once, until stopped.

The dispatcher (deliveries) and the poll engine (watched runs) are both this loop over
different rows: the store hands out rows with a lease (so another process takes a row over
only once its lease ran out), and a row claimed again while still being worked on here (its
lease ran out mid-work) is not started twice. Stopping lets the work under way finish within
a grace period; what is left keeps its lease and is taken up again after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

Row = TypeVar("Row")


class ClaimLoop(Generic[Row]):
    task_name = "hookyard-claims"
    log = logging.getLogger("hookyard.claims")

    def __init__(self) -> None:
        self._inflight: set[asyncio.Task[None]] = set()
        self._working: set[Hashable] = set()  # keys of the rows being worked on here
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- what each loop says --------------------------------------------------------
    def capacity(self) -> int:
        """How many rows may be worked on at once."""
        raise NotImplementedError

    def idle_seconds(self) -> float:
        """How long to wait for a ``notify`` before looking for due rows again."""
        raise NotImplementedError

    async def claim_rows(self, limit: int) -> Sequence[Row]:
        """Up to ``limit`` due rows, leased to this loop; none when the store cannot answer now."""
        raise NotImplementedError

    def row_key(self, row: Row) -> Hashable:
        raise NotImplementedError

    async def handle(self, row: Row) -> None:
        raise NotImplementedError

    def task_failed(self, error: BaseException) -> None:
        """A row's task raised: its lease runs out and it is claimed again."""

    async def between_claims(self) -> None:
        """Done once per round, after the claim (e.g. the gauges)."""

    # -- the loop -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None

    def notify(self) -> None:
        """New work may be due: look now instead of after ``idle_seconds``."""
        self._wake.set()

    def start_loop(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight:  # work under way is recorded; the rest keeps its lease
            await asyncio.wait(list(self._inflight), timeout=grace)

    async def claim_and_wait(self, free: int) -> int:
        """Claim up to ``free`` rows now and wait until their work is done; how many were claimed
        (tests drive a loop this way, with a fake clock)."""
        before = set(self._inflight)
        claimed = await self._claim(free)
        started = self._inflight - before
        if started:
            await asyncio.wait(started)
        return claimed

    @contextlib.asynccontextmanager
    async def leased(
        self, what: str, renew: Callable[[], Awaitable[bool]], lease_seconds: float
    ) -> AsyncIterator[None]:
        """Renew a row's lease every third of ``lease_seconds`` while it is worked on. ``renew``
        extends it and says whether the row is still ours; a renewal that fails or hangs is
        logged and tried again at the next beat (two thirds of the lease are still left)."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(lease_seconds / 3)
                try:
                    ours = await asyncio.wait_for(renew(), lease_seconds / 3)
                except Exception as exc:
                    self.log.warning("%s: renewing its lease failed: %s", what, type(exc).__name__)
                    continue
                if not ours:
                    self.log.warning("%s: lease lost while it was being worked on", what)
                    return

        heartbeat = asyncio.create_task(beat())
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _run(self) -> None:
        while not self._stopping:
            free = self.capacity() - len(self._inflight)
            claimed = await self._claim(free) if free > 0 else 0
            await self.between_claims()
            if not claimed or claimed >= free:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_seconds())

    async def _claim(self, free: int) -> int:
        rows = await self.claim_rows(min(free, 256))
        for row in rows:
            key = self.row_key(row)
            if key in self._working:  # claimed again while still being worked on here
                continue
            self._working.add(key)
            task = asyncio.create_task(self._work_on(key, row))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        return len(rows)

    async def _work_on(self, key: Hashable, row: Row) -> None:
        try:
            await self.handle(row)
        finally:
            self._working.discard(key)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self.task_failed(error)
