"""The background pruner: keeps history within ``storage.retention``.

Every ``interval_seconds`` one *pass* deletes, batch by batch, events older than
``events_days`` (with their bodies, deliveries and attempts; never one an unfinished
delivery or an open group needs), runs older than ``runs_days``, deployments, silences and
repeat-suppression rows over for ``events_days`` (``store/retention_side.py`` says what stays;
the notification log at least as long as the longest ``repeat_interval``), and expired web
sessions; then SQLite gives the freed pages back to the disk. Each batch is its own short transaction (on SQLite one
operation of the group-commit writer), and the pruner yields between batches, so webhooks
keep being stored while it works. It runs where deliveries are sent (the single process, or
the dispatcher process with ``server.processes`` > 1); a second daemon pruning the same
PostgreSQL at once is safe (``store/retention.py``).

A pass that pruned something logs one ``retention.pass`` line; a failed one logs
``retention.failed`` and is tried again at the next interval. Both are counted in /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from receiver.config import RetentionModel
from receiver.logfmt import log_event
from receiver.metrics import Metrics
from receiver.rules import RuleSet
from receiver.store.retention import TABLES, Pruned, RetentionStore, retention_ops

log = logging.getLogger("hookyard.retention")

DAY = 86_400.0
# Between batches the pruner waits as long as the batch took (at least the minimum, at most the
# maximum): it never has more than about half of the writer's time (and, on SQLite, of the event
# loop's), so webhooks stored meanwhile wait for at most one batch.
MIN_PAUSE_SECONDS = 0.005
MAX_PAUSE_SECONDS = 1.0
# SQLite pages given back per writer operation (4 KiB each; ~30 µs per page).
RECLAIM_PAGES_PER_STEP = 128
# How long ``stop`` waits for the batch under way (one short transaction) before cancelling it.
STOP_GRACE_SECONDS = 5.0


class Pruner:
    def __init__(
        self,
        store: Any,
        policy: RetentionModel,
        *,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        pause: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        keep_repeats: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.ops: RetentionStore = retention_ops(store)
        self.policy = policy
        self.clock = clock
        self.metrics = metrics
        self.pause = pause
        self.keep_repeats = keep_repeats  # seconds: the longest repeat_interval of the rules in force
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reclaims: bool | None = None  # known after the first pass

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self.policy.enabled and self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="hookyard-pruner")

    async def stop(self) -> None:
        """Stop between two batches; a batch still running after STOP_GRACE_SECONDS is cancelled
        (its transaction rolls back, nothing half-deleted)."""
        self._stop.set()
        if self._task is None:
            return
        task, self._task = self._task, None
        done, _ = await asyncio.wait([task], timeout=STOP_GRACE_SECONDS)
        if not done:
            log.warning("retention pass still running %g s after shutdown began; cancelled", STOP_GRACE_SECONDS)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        # The first pass waits one interval: a daemon starting is busy enough.
        while not await self._wait(self.policy.interval_seconds):
            try:
                await self.run_pass()
            except Exception as exc:  # the store is busy or gone: tried again next interval
                if self.metrics is not None:
                    self.metrics.prune_failed()
                log_event(log, logging.WARNING, "retention.failed", error=f"{type(exc).__name__}: {exc}")

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` or until stopped; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        return self._stop.is_set()

    async def run_pass(self) -> Pruned:
        """One pass at the clock's current time: rows deleted per table (tests call it directly)."""
        started = time.perf_counter()
        now = self.clock()
        limit = self.policy.batch_size
        total = Pruned()
        events = now - self.policy.events_days * DAY
        # A repeat_interval longer than events_days: its notification log rows outlive the events.
        repeats = min(events, now - self.keep_repeats())
        steps: list[tuple[str, Callable[[float, int], Awaitable[Pruned]], float]] = [
            ("events", self.ops.prune_events, events),
            ("runs", self.ops.prune_runs, now - self.policy.runs_days * DAY),
            ("deployments", functools.partial(self.ops.prune_side, "deployments"), events),
            ("notify_log", functools.partial(self.ops.prune_side, "notify_log"), repeats),
            ("silences", functools.partial(self.ops.prune_side, "silences"), events),
        ]
        for table, prune, horizon in steps:
            while not self._stop.is_set():
                took = time.perf_counter()
                batch = await prune(horizon, limit)
                total.update(batch)
                # A short batch was the last: what is left is young enough (or still needed).
                if batch[table] < limit:
                    break
                await self._yield(time.perf_counter() - took)
        total.update(await self.ops.drop_sessions(now))
        reclaimed = await self._reclaim() if sum(total.values()) else 0
        seconds = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.pruned({t: total[t] for t in TABLES}, seconds, reclaimed)
        if sum(total.values()):
            fields = {t: total[t] for t in TABLES if total[t]}
            log_event(log, logging.INFO, "retention.pass", **fields, reclaimed_bytes=reclaimed, seconds=seconds)
        return total

    async def _reclaim(self) -> int:
        if self._reclaims is None:
            self._reclaims = await self.ops.reclaims_space()
            if not self._reclaims:
                log_event(
                    log,
                    logging.WARNING,
                    "retention.no_reclaim",
                    reason="the SQLite file predates incremental auto_vacuum: pruned pages are reused but the file "
                    "does not shrink; run `hookyard db vacuum` once (it holds the write lock while it runs)",
                )
        if not self._reclaims:
            return 0
        given = 0
        while not self._stop.is_set():
            took = time.perf_counter()
            freed = await self.ops.reclaim(RECLAIM_PAGES_PER_STEP)
            given += freed
            if freed == 0:  # nothing left to give back
                break
            await self._yield(time.perf_counter() - took)
        return given

    async def _yield(self, batch_seconds: float) -> None:
        await self.pause(min(max(batch_seconds, MIN_PAUSE_SECONDS), MAX_PAUSE_SECONDS))


def longest_repeat_interval(ruleset: RuleSet | None) -> float:
    """The longest ``repeat_interval`` of ``ruleset``'s actions in seconds (0 without any)."""
    if ruleset is None:
        return 0.0
    found = (p.action.repeat_interval for r in ruleset.rules for p in r.planned)
    return max((i for i in found if i is not None), default=0.0)
