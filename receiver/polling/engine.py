"""The poll engine: claim due polls → ask the platform → store what changed → reschedule.

It runs beside the dispatcher, wherever deliveries are sent, and works like it: each watched
run is a row claimed with a lease (``store/polls.py``), renewed while its poll is in flight, so
a poller that dies (``kill -9``) lets the lease run out and another process, or the restarted
one, resumes; two processes never poll one run at once.

One poll: the run's poller (``POLLERS``) asks through the run's sink (its base URL, auth,
outbound guard and timeout), each request paced by the sink's rate limiter — the dispatcher's
own token bucket, so polls and deliveries share the platform's budget. Each observation becomes
an event, built like a webhook's (``events.new_event``, the raw answer as its body,
``platform_event: "poll"``) and saved through the same ``runs.save`` (run row, enrichment,
rules), deduplicated by ``poll:<run id>:<observation key>``; the dispatcher is then woken.

The next poll waits the platform's interval, longer on errors and while nothing changes, at
least a ``Retry-After`` (``schedule.py``). A final status ends the polling (``done``); a run
still not final ``max_duration_seconds`` after its polling began gets a ``run.timed_out`` event
(``gave_up``). Every wait is bounded: a request by the sink's timeout (and a cut just above
it), a rate-limit wait by half the lease (else the poll is given back, due when the token is).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from receiver.config import Config, Source
from receiver.delivery.claims import ClaimLoop
from receiver.delivery.limits import TokenBucket
from receiver.delivery.policy import error_class
from receiver.errors import DeliveryError
from receiver.events import Normalized, new_event
from receiver.ids import new_id
from receiver.logfmt import log_event
from receiver.metrics import Metrics
from receiver.polling import POLLERS
from receiver.polling.base import Fetch, Observation, Poller, PollerSpec, PollResult
from receiver.polling.schedule import next_due, next_wait
from receiver.polling.watching import Watcher
from receiver.rules import Router
from receiver.runs import track as runs
from receiver.sinks.base import SendResult
from receiver.sources import fields
from receiver.store import Store
from receiver.store.polls import Polled, PollHistoryRow, PollRow, PollState

log = logging.getLogger("hookyard.polling")

# With nothing due, look again after this long (a trigger in this process wakes it at once).
IDLE_SECONDS = 0.5
# A request is cut this long after its sink's own timeout should have ended it.
CUT_MARGIN_SECONDS = 5.0
# The runs-watched gauge is read from the store at most this often.
GAUGE_SECONDS = 5.0


class HeldBack(Exception):
    """The sink's rate limiter would make this poll wait longer than half a lease: give it back."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limit: next request in {wait:.1f} s")
        self.wait = wait


class PollEngine(ClaimLoop[PollRow]):
    task_name = "hookyard-poller"
    log = log

    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Any],
        config: Callable[[], Config],
        router: Router,
        *,
        buckets: Callable[[str], TokenBucket | None] = lambda sink_id: None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        wake: Callable[[], None] = lambda: None,
        pollers: Mapping[str, PollerSpec] = POLLERS,
    ) -> None:
        self.store = store
        self.sinks = sinks
        self.config = config
        self.router = router
        self.buckets = buckets
        self.clock = clock
        self.metrics = metrics
        self.wake = wake
        self.owner = new_id("pol")
        self.pollers: dict[str, Poller] = {name: spec.create() for name, spec in pollers.items()}
        self.watcher = Watcher(store, self.pollers, config, self._fetch_for, clock)
        super().__init__()
        self._gauge_at = float("-inf")

    # -- the claim loop (delivery/claims.py) ------------------------------------------
    def start(self) -> None:
        if self.config().polling.enabled:
            self.start_loop()

    async def run_once(self) -> int:
        """Claim what is due now and poll it; returns how many were claimed once every poll is
        recorded (tests drive the engine this way, with a fake clock)."""
        return await self.claim_and_wait(self.config().polling.concurrency)

    def capacity(self) -> int:
        return self.config().polling.concurrency

    def idle_seconds(self) -> float:
        return IDLE_SECONDS

    async def between_claims(self) -> None:
        await self.watcher.maybe_discover()
        await self._gauge()

    async def _gauge(self) -> None:
        if self.metrics is None or time.monotonic() - self._gauge_at < GAUGE_SECONDS:
            return
        self._gauge_at = time.monotonic()
        with contextlib.suppress(Exception):  # a busy store: the next look tries again
            self.metrics.runs_watched(await self.store.count_watching())

    async def claim_rows(self, limit: int) -> list[PollRow]:
        settings = self.config().polling
        try:
            return await self.store.claim_polls(self.clock(), limit, settings.lease_seconds, self.owner)
        except Exception as exc:  # store busy or gone: nothing was claimed, the next round retries
            log.warning("claiming polls failed: %s: %s; retrying", type(exc).__name__, exc)
            return []

    def row_key(self, row: PollRow) -> tuple[str, str]:
        return (row.source_id, row.run_id)

    def task_failed(self, error: BaseException) -> None:  # the lease runs out and the run is polled again
        log.error("poll task failed: %s: %s; retried after its lease", type(error).__name__, error)

    # -- one poll ------------------------------------------------------------------------
    async def handle(self, row: PollRow) -> None:
        lease = self.config().polling.lease_seconds

        def renew() -> Awaitable[bool]:
            return self.store.renew_poll(row.source_id, row.run_id, self.owner, self.clock() + lease)

        async with self.leased(f"poll of run {row.run_id} ({row.source_id})", renew, lease):
            polled = await self._polled(row)
            if not await self.store.finish_poll(row.source_id, row.run_id, self.owner, polled):
                log.warning("poll of run %s (%s): lease lost before it was recorded", row.run_id, row.source_id)

    async def _polled(self, row: PollRow) -> Polled:
        """Poll ``row``'s run now and say how its schedule goes on."""
        settings = self.config().polling
        now = self.clock()
        if now >= row.started_at + settings.max_duration_seconds:
            return await self._give_up(row, now)
        if row.run_key is not None:  # a webhook may have finished the run meanwhile: then nothing to ask
            run = await self.store.get_run(row.run_key)
            if run is not None and run.final:
                history = PollHistoryRow(0, now, None, None, 0, f"the run is final ({run.status}): not asked")
                return Polled(PollState.DONE, now, now, 0.0, row.failures, row.unchanged, row.cursor, None,
                              row.last_error, row.run_key, history)  # fmt: skip
        source = self.config().sources.get(row.source_id)
        base = source.poll.interval_seconds if source and source.poll and source.poll.interval_seconds else None
        base = base or settings.interval_seconds
        statuses: list[int | None] = []
        try:
            result = await self._ask(row, statuses)
        except HeldBack as held:
            self._count(row, "held_back")
            return self._next(row, now, base, history=None, wait=held.wait, failures=row.failures)
        except DeliveryError as exc:
            return self._failed(row, now, base, exc.reason, exc.status, error_class(exc), exc.retry_after)
        except TimeoutError:
            return self._failed(row, now, base, "no answer in time", None, "timeout", None)
        except Exception as exc:  # a poller bug: kept watching, backing off, visible on the run page
            log.exception("poller %s failed on run %s", row.platform, row.run_id)
            reason = f"internal error in poller: {type(exc).__name__}"
            return self._failed(row, now, base, reason, None, "internal", None)
        made = 0
        for observation in result.observations:
            made += await self._store(row, source, observation, result.answer, now)
        status = statuses[-1] if statuses else None
        self._count(row, "changed" if made else "unchanged")
        unchanged = 0 if made else row.unchanged + 1
        history = PollHistoryRow(0, now, status, None, made, "final status" if result.final else None)
        if result.final:
            return Polled(PollState.DONE, now, now, 0.0, 0, unchanged, result.cursor, status, None, row.run_key,
                          history)  # fmt: skip
        wait = next_wait(base, settings.max_interval_seconds, unchanged=unchanged)
        return self._next(row, now, base, history=history, wait=wait, unchanged=unchanged, result=result,
                          status=status)  # fmt: skip

    async def _ask(self, row: PollRow, statuses: list[int | None]) -> PollResult:
        poller = self.pollers.get(row.platform)
        if poller is None:
            raise DeliveryError(f"no poller for platform {row.platform!r}", retryable=True)
        fetch = self._fetch_for(row.sink_id, statuses)
        timeout = getattr(self.sinks.get(row.sink_id), "timeout", 10.0)
        # Bounded above the sink's own timeout: a poller that fetches twice still ends.
        return await asyncio.wait_for(poller.poll(row.run_id, row.cursor, fetch), 2 * timeout + CUT_MARGIN_SECONDS)

    def _fetch_for(self, sink_id: str, statuses: list[int | None] | None = None) -> Fetch:
        """The sink's GET, paced by its rate limiter; each answer's status noted in ``statuses``."""
        sink = self.sinks.get(sink_id)
        get = getattr(sink, "get", None)
        lease = self.config().polling.lease_seconds
        bucket = self.buckets(sink_id)

        async def fetch(path: str, params: Mapping[str, str]) -> SendResult:
            if get is None:
                raise DeliveryError(f"sink {sink_id!r} is not configured or cannot GET", retryable=True)
            if bucket is not None:
                wait = bucket.reserve()
                if wait > lease / 2:
                    bucket.cancel()
                    raise HeldBack(wait)
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                answer: SendResult = await get(path, params)
            except DeliveryError as exc:
                if statuses is not None:
                    statuses.append(exc.status)
                raise
            if statuses is not None:
                statuses.append(answer.status)
            return answer

        return fetch

    async def _store(self, row: PollRow, source: Source | None, obs: Observation, answer: Any, now: float) -> int:
        """Save one observation as an event like a webhook's; 1 when it was new, 0 when not."""
        normalized = replace(obs.normalized, platform_event="poll")
        return await self._save(row, source, normalized, orjson.dumps(answer), f"poll:{row.run_id}:{obs.key}", now)

    async def _save(
        self, row: PollRow, source: Source | None, normalized: Normalized, body: bytes, key: str, now: float
    ) -> int:
        event = new_event(
            normalized, source_id=row.source_id, kind=source.kind if source else row.platform, received_at=now,
            body=body, headers={}, dedupe_keys=[key], dedupe_window=0.0,
        )  # fmt: skip
        git, baseline = (source.git, source.baseline) if source else (None, None)
        result, planned = await runs.save(self.store, event, self.router.plan, now, git=git, baseline=baseline)
        if result.duplicate:
            return 0
        if planned:
            self.wake()
        return 1

    def _next(
        self,
        row: PollRow,
        now: float,
        base: float,
        *,
        history: PollHistoryRow | None,
        wait: float,
        failures: int = 0,
        unchanged: int = 0,
        result: PollResult | None = None,
        status: int | None = None,
        error: str | None = None,
    ) -> Polled:
        max_duration = self.config().polling.max_duration_seconds
        return Polled(
            PollState.WATCHING, next_due(now, wait, row.started_at, max_duration), now, wait, failures,
            unchanged if history is not None else row.unchanged, result.cursor if result else row.cursor, status,
            error if history is not None else row.last_error, row.run_key, history,
        )  # fmt: skip

    def _failed(
        self, row: PollRow, now: float, base: float, reason: str, status: int | None, error_class: str,
        retry_after: float | None,
    ) -> Polled:  # fmt: skip
        failures = row.failures + 1
        settings = self.config().polling
        wait = next_wait(base, settings.max_interval_seconds, failures=failures, retry_after=retry_after)
        self._count(row, "throttled" if status == 429 else "failed")
        log_event(log, logging.WARNING, "poll.failed", run=row.run_id, source=row.source_id, platform=row.platform,
                  status=status, reason=reason, failures=failures, next_in=round(wait, 1))  # fmt: skip
        history = PollHistoryRow(0, now, status, error_class, 0, reason)
        return self._next(row, now, base, history=history, wait=wait, failures=failures, unchanged=row.unchanged,
                          status=status, error=reason)  # fmt: skip

    async def _give_up(self, row: PollRow, now: float) -> Polled:
        """``max_duration_seconds`` passed: one ``run.timed_out`` event, and no more polls."""
        hours = (now - row.started_at) / 3600
        reason = f"gave up after {hours:.3g} h without a final status"
        data, _ = fields.build_data({"run": {"id": row.run_id, "status": "timed_out"}})
        data["poll"] = {"polls": row.polls, "last_error": row.last_error}
        normalized = Normalized("run.timed_out", row.platform, "poll", row.run_id, None, data, None)
        body = orjson.dumps({"reason": reason, "polls": row.polls})
        source = self.config().sources.get(row.source_id)
        made = await self._save(row, source, normalized, body, f"poll:{row.run_id}:timed_out", now)
        self._count(row, "timed_out")
        if self.metrics is not None:
            self.metrics.poll_gave_up(row.platform)
        log_event(log, logging.WARNING, "poll.gave_up", run=row.run_id, source=row.source_id, platform=row.platform,
                  polls=row.polls, reason=reason)  # fmt: skip
        history = PollHistoryRow(0, now, None, "timed_out", made, reason)
        return Polled(PollState.GAVE_UP, now, now, 0.0, row.failures, row.unchanged, row.cursor, None, reason,
                      row.run_key, history)  # fmt: skip

    def _count(self, row: PollRow, result: str) -> None:
        if self.metrics is not None:
            self.metrics.polled(row.platform, result)

