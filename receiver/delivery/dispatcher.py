"""The dispatcher: claim due deliveries → send → record the attempt → reschedule.

Each delivery is claimed with a lease; a worker that dies (``kill -9``) simply lets
its lease run out and the delivery becomes claimable again, so restarts resume where
they stopped. Every attempt is a row. Failures retry with exponential backoff and
jitter (a destination's ``Retry-After`` wins when longer) until ``max_attempts`` or
``max_age_seconds``; permanent failures go dead at once with their reason.

Per sink: a concurrency limit, an optional rate limit (reservations on a token
bucket, so a burst is paced instead of stampeding), and a circuit breaker that stops
hammering a failing destination and lets one probe through after its cooldown.

A successful action with ``emit:`` turns the answer into a derived event that is
stored — with its own planned deliveries — in the same transaction that records the
success, so a chain step is never lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from receiver.config import ALWAYS_PRIVATE, DeliveryModel
from receiver.delivery.limits import CircuitBreaker, TokenBucket
from receiver.delivery.policy import exhausted, next_delay
from receiver.errors import DeliveryError, StoreUnavailable
from receiver.events import Normalized, build_envelope, new_id
from receiver.routing import Plan, Router
from receiver.sinks.base import DeliveryOptions, SendContext, SendResult, Sink
from receiver.store.base import AttemptRow, Claimed, DeliveryState, NewEvent, Outcome

log = logging.getLogger("hookyard.delivery")


class Dispatcher:
    def __init__(
        self,
        store: Any,
        sinks: Mapping[str, Sink],
        options: Mapping[str, DeliveryOptions],
        router: Router,
        settings: DeliveryModel,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.options = dict(options)
        self.router = router
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.owner = new_id("wrk")
        self._semaphores = {sid: asyncio.Semaphore(o.concurrency) for sid, o in self.options.items()}
        self._breakers = {
            sid: CircuitBreaker(o.breaker_threshold, o.breaker_cooldown_seconds, monotonic)
            for sid, o in self.options.items()
        }
        self._buckets = {
            sid: TokenBucket(o.rate_per_second, o.burst, monotonic)
            for sid, o in self.options.items()
            if o.rate_per_second
        }
        self._ordering_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------
    def notify(self) -> None:
        """New work may be due (an event was stored): look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self.settings.workers > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="hookyard-dispatcher")

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight:
            # Let attempts under way finish and be recorded; the rest keep their lease
            # and are picked up again after a restart.
            await asyncio.wait(self._inflight, timeout=grace)

    async def _run(self) -> None:
        while not self._stopping:
            free = self.settings.workers - len(self._inflight)
            claimed: list[Claimed] = []
            if free > 0:
                try:
                    claimed = await self.store.claim_due(
                        self.clock(), min(free, 256), self.settings.lease_seconds, self.owner
                    )
                except StoreUnavailable as exc:  # e.g. store_busy: nothing was claimed; the next poll retries
                    log.warning("claiming deliveries failed: %s; retrying", exc)
                except Exception:
                    log.exception("claiming deliveries failed; retrying")
            for c in claimed:
                task = asyncio.create_task(self._deliver(c))
                self._inflight.add(task)
                task.add_done_callback(self._done)
            if not claimed or len(claimed) >= free:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_interval_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()
        error = None if task.cancelled() else task.exception()
        if isinstance(error, StoreUnavailable):  # the lease runs out and the delivery is claimed again
            log.warning("recording a delivery's attempt or lease failed: %s; it is retried after its lease", error)
        elif error is not None:
            log.error("delivery task failed", exc_info=error)

    # -- one delivery ------------------------------------------------------------------
    async def _deliver(self, c: Claimed) -> None:
        d = c.delivery
        sink = self.sinks.get(d.sink_id)
        if sink is None or d.params is None:
            reason = f"sink {d.sink_id!r} is not configured" if sink is None else "delivery has no parameters"
            await self._finish(c, self._attempt(d.id, self.clock(), 0.0, "dead", reason=reason), DeliveryState.DEAD,
                               reason)
            return
        breaker = self._breakers[d.sink_id]
        if not breaker.allow():
            await self.store.postpone(d.id, self.owner, self.clock() + max(breaker.retry_in(), 0.05))
            return
        bucket = self._buckets.get(d.sink_id)
        if bucket is not None:
            wait = bucket.reserve()
            if wait > self.settings.lease_seconds / 2:
                bucket.cancel()
                await self.store.postpone(d.id, self.owner, self.clock() + wait)
                return
            if wait > 0:
                await asyncio.sleep(wait)
        if d.ordering_key:
            async with self._ordering_locks[d.ordering_key]:
                if await self.store.newer_succeeded(d.ordering_key, d.ordering_time or 0.0, d.id):
                    reason = "superseded: a newer update for the same target was already delivered"
                    await self._finish(c, self._attempt(d.id, self.clock(), 0.0, "superseded", reason=reason),
                                       DeliveryState.SUPERSEDED, None)
                    return
                await self._send(c, sink, breaker)
        else:
            await self._send(c, sink, breaker)

    async def _send(self, c: Claimed, sink: Sink, breaker: CircuitBreaker) -> None:
        d = c.delivery
        opts = self.options[d.sink_id]
        attempt_no = d.attempts + 1
        async with self._semaphores[d.sink_id]:
            started = self.clock()
            t0 = time.perf_counter()
            try:
                result = await sink.send(d.params or {}, SendContext(d.id, attempt_no, c.envelope))
                error: DeliveryError | None = None
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a sink bug must not kill the worker or lose the delivery
                log.exception("sink %s raised unexpectedly", d.sink_id)
                error = DeliveryError(f"internal error in sink: {type(exc).__name__}", retryable=True)
            duration_ms = (time.perf_counter() - t0) * 1000
        finished = self.clock()
        if error is None:
            breaker.record_success()
            attempt = AttemptRow(d.id, attempt_no, started, finished, duration_ms, "succeeded", result.status,
                                 None, None, result.response_excerpt)
            derived = self._derive(c, result, finished) if d.emit else None
            await self._finish(c, attempt, DeliveryState.SUCCEEDED, None, derived=derived)
            if derived is not None and derived[1]:
                self.notify()
            return
        if error.retryable:
            breaker.record_failure()
        attempt = AttemptRow(d.id, attempt_no, started, finished, duration_ms, "failed", error.status,
                             _error_class(error), error.reason, error.response_excerpt)
        if not error.retryable:
            await self._finish(c, attempt, DeliveryState.DEAD, error.reason)
        elif exhausted(attempt_no, opts.max_attempts, d.budget_start, finished, opts.max_age_seconds):
            await self._finish(c, attempt, DeliveryState.DEAD, f"gave up after {attempt_no} attempts: {error.reason}")
        else:
            delay = next_delay(attempt_no, error.retry_after, rng=self.rng)
            await self._finish(c, attempt, DeliveryState.RETRYING, error.reason, next_at=finished + delay)

    async def _finish(
        self,
        c: Claimed,
        attempt: AttemptRow,
        state: DeliveryState,
        last_error: str | None,
        *,
        next_at: float | None = None,
        derived: tuple[NewEvent, list[Any]] | None = None,
    ) -> None:
        outcome = Outcome(attempt, state, next_at, last_error, derived)
        if not await self.store.finish(c.delivery.id, self.owner, outcome):
            log.warning("delivery %s: lease lost before its attempt was recorded", c.delivery.id)

    @staticmethod
    def _attempt(delivery_id: str, now: float, duration: float, outcome: str, *, reason: str) -> AttemptRow:
        return AttemptRow(delivery_id, 0, now, now, duration, outcome, None, None, reason, None)

    # -- emit: the answer becomes an event ----------------------------------------------
    def _derive(self, c: Claimed, result: SendResult, now: float) -> tuple[NewEvent, list[Any]]:
        d = c.delivery
        parent = c.envelope
        depth = c.depth + 1
        data: dict[str, Any] = {"response": result.body}
        for key in ("run", "git"):
            if parent.get("data", {}).get(key) is not None:
                data[key] = parent["data"][key]
        event_id = new_id("evt", now)
        normalized = Normalized(
            type=d.emit or "response", platform=parent.get("platform") or "hookyard", subject=parent.get("subject"),
            data=data, raw=result.body,
        )
        envelope = build_envelope(
            normalized, event_id=event_id, source_id=d.sink_id, received_at=now, parent_id=parent["id"],
            correlation_id=parent.get("correlation_id") or parent["id"],
        )
        note = None
        if depth > self.settings.max_chain_depth:
            plan = Plan(None)
            note = f"chain depth {depth} exceeds delivery.max_chain_depth ({self.settings.max_chain_depth}): not routed"
            log.warning("event %s: %s", event_id, note)
        else:
            plan = self.router.plan(envelope)
        body = json.dumps(result.body).encode() if result.body is not None else (result.response_excerpt or "").encode()
        event = NewEvent(
            id=event_id, source_id=d.sink_id, kind="derived", type=normalized.type, subject=normalized.subject,
            received_at=now, body=body, body_sha256=hashlib.sha256(body).hexdigest(),
            headers={k: v for k, v in result.headers.items() if k.lower() not in ALWAYS_PRIVATE},
            envelope=envelope, correlation_id=envelope["correlation_id"], normalize_error=note,
            parent_id=parent["id"], depth=depth, rules_version=plan.rules_version, matched_rules=plan.matched_rules,
            # Recording the success again (a crash between send and commit) must not emit twice.
            dedupe_keys=[f"emit:{d.id}"],
        )
        return event, plan.deliveries


def _error_class(error: DeliveryError) -> str:
    if error.status is not None:
        return f"http_{error.status}"
    return "transient" if error.retryable else "permanent"
