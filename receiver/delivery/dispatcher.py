"""The dispatcher: claim due deliveries → send → record the attempt → reschedule.

Each delivery is claimed with a lease, renewed while the delivery is being worked on
(so a send slower than the lease is not claimed again), and a delivery is never in
flight twice in one dispatcher. A worker that dies (``kill -9``) simply lets its lease
run out and the delivery becomes claimable again, so restarts resume where they
stopped. Every attempt is a row. Failures retry with exponential backoff and jitter
(a destination's ``Retry-After`` wins when longer) until ``max_attempts`` or
``max_age_seconds``; permanent failures go dead at once with their reason. A delivery
held back without an attempt (breaker open, rate limit) still ages: past
``max_age_seconds`` it goes dead instead of being postponed again.

Per sink: a concurrency limit, an optional rate limit (reservations on a token
bucket, so a burst is paced instead of stampeding), and a circuit breaker that stops
hammering a failing destination and lets one probe through after its cooldown. Every
way a probe can end settles the breaker: success or a permanent error (the delivery's
fault, not the destination's) closes it, a retryable failure re-opens it, and a probe
that sent nothing (postponed, superseded) lets the next delivery probe.

A successful action with ``emit:`` turns the answer into a derived event (``emit.py``); one
that started a run on a platform records the run with the event's commit (``track_run.py``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from receiver.config import DeliveryModel
from receiver.delivery.claims import ClaimLoop
from receiver.delivery.emit import derive
from receiver.delivery.grouping import GroupFlusher
from receiver.delivery.limits import BreakerState, CircuitBreaker, TokenBucket
from receiver.delivery.observe import Observer
from receiver.delivery.policy import error_class, exhausted, next_delay
from receiver.delivery.quiet import REPEAT_WAIT_SECONDS, Held, Quiet, Reservation
from receiver.delivery.track_run import started_run
from receiver.errors import DeliveryError, StoreUnavailable
from receiver.ids import new_id
from receiver.metrics import Metrics
from receiver.rules import Router
from receiver.sinks.base import DeliveryOptions, SendContext, Sink, parse_action
from receiver.store import Store
from receiver.store.base import AttemptRow, Claimed, DeliveryState, NewEvent, Outcome, RepeatRecord
from receiver.store.runs import TriggeredRun

log = logging.getLogger("hookyard.delivery")


class Dispatcher(ClaimLoop[Claimed]):
    task_name = "hookyard-dispatcher"
    log = log

    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        options: Mapping[str, DeliveryOptions],
        router: Router,
        settings: DeliveryModel,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        poll_platforms: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        # Platforms with a poller: a run a delivery starts there is polled through its sink.
        self.poll_platforms = poll_platforms
        self.sinks = dict(sinks)
        self.options = dict(options)
        self.router = router
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.owner = new_id("wrk")
        self.observe = Observer(metrics)
        self.quiet = Quiet(store, router, clock, monotonic)  # silences, mute_time, repeat_interval
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
        # Due groups of grouped actions become deliveries here, before each claim.
        self.groups = GroupFlusher(store, router, clock=clock, metrics=metrics)
        self._ordering_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        super().__init__()

    def breaker_states(self) -> dict[str, str]:
        """Each sink's circuit breaker: ``closed``, ``half_open`` or ``open`` (for the API and /metrics)."""
        for sid, breaker in self._breakers.items():
            self.observe.breaker(sid, breaker)  # notices an open breaker whose cooldown ended
        return {sid: b.state.value for sid, b in self._breakers.items()}

    def bucket(self, sink_id: str) -> TokenBucket | None:
        """The sink's rate limiter: the poll engine takes its tokens too (one budget per platform)."""
        return self._buckets.get(sink_id)

    # -- the claim loop (claims.py): with ``server.processes`` > 1 only the dispatcher process runs it --
    def start(self) -> None:
        if self.settings.workers > 0:
            self.breaker_states()
            self.start_loop()

    async def run_once(self) -> int:
        """Claim what is due now and deliver it; returns the number claimed once every attempt
        is recorded (tests drive the dispatcher this way, with a fake clock)."""
        await self.groups.flush(force=True)
        return await self.claim_and_wait(max(self.settings.workers, 1))

    def capacity(self) -> int:
        return self.settings.workers

    def idle_seconds(self) -> float:
        return self.settings.poll_interval_seconds

    async def claim_rows(self, limit: int) -> list[Claimed]:
        await self.groups.flush()  # due groups become deliveries first
        try:
            return await self.store.claim_due(self.clock(), limit, self.settings.lease_seconds, self.owner)
        except StoreUnavailable as exc:  # e.g. store_busy: nothing was claimed; the next poll retries
            log.warning("claiming deliveries failed: %s; retrying", exc)
        except Exception:
            log.exception("claiming deliveries failed; retrying")
        return []

    def row_key(self, row: Claimed) -> str:
        return row.delivery.id

    def task_failed(self, error: BaseException) -> None:
        if isinstance(error, StoreUnavailable):  # the lease runs out and the delivery is claimed again
            log.warning("recording a delivery's attempt or lease failed: %s; it is retried after its lease", error)
        else:
            log.error("delivery task failed", exc_info=error)

    # -- one delivery ------------------------------------------------------------------
    async def handle(self, row: Claimed) -> None:
        lease = self.settings.lease_seconds

        def renew() -> Awaitable[bool]:
            return self.store.renew(row.delivery.id, self.owner, self.clock() + lease)

        async with self.leased(f"delivery {row.delivery.id}", renew, lease):
            await self._work(row)

    async def _work(self, c: Claimed) -> None:
        d = c.delivery
        sink = self.sinks.get(d.sink_id)
        if sink is None or d.params is None:
            reason = f"sink {d.sink_id!r} is not configured" if sink is None else "delivery has no parameters"
            await self._dead(c, d.attempts, reason)
            return
        held = await self.quiet.held(c)
        if held is not None:  # silenced: never sent, whatever the sink's state
            await self._hold(c, held)
            return
        breaker = self._breakers[d.sink_id]
        probe = breaker.state is BreakerState.HALF_OPEN
        if not breaker.allow():
            await self._postpone(c, max(breaker.retry_in(), 0.05), "circuit breaker open")
            return
        try:
            await self._admitted(c, sink, breaker)
        finally:
            if probe:
                breaker.release()  # a no-op once the probe's outcome was recorded
            self.observe.breaker(d.sink_id, breaker)

    async def _admitted(self, c: Claimed, sink: Sink, breaker: CircuitBreaker) -> None:
        d = c.delivery
        bucket = self._buckets.get(d.sink_id)
        if bucket is not None:
            wait = bucket.reserve()
            if wait > self.settings.lease_seconds / 2:
                bucket.cancel()
                await self._postpone(c, wait, "rate limit")
                return
            if wait > 0:
                await asyncio.sleep(wait)
        if d.ordering_key:
            async with self._ordering_locks[d.ordering_key]:
                if await self.store.newer_succeeded(d.ordering_key, d.ordering_time or 0.0, d.id):
                    reason = "superseded: a newer update for the same target was already delivered"
                    now = self.clock()
                    if await self._finish(
                        c, self._attempt(d.id, now, 0.0, "superseded", reason=reason), DeliveryState.SUPERSEDED, None
                    ):
                        self.observe.superseded(d)
                    return
                await self._send(c, sink, breaker)
        else:
            await self._send(c, sink, breaker)

    async def _postpone(self, c: Claimed, wait: float, why: str) -> None:
        """Give the delivery back without an attempt; past its ``max_age_seconds`` it goes dead instead."""
        d = c.delivery
        now = self.clock()
        deadline = d.budget_start + self.options[d.sink_id].max_age_seconds
        if now >= deadline:
            await self._dead(c, d.attempts, f"gave up after {now - d.budget_start:.0f} s without sending: {why}")
            return
        until = min(now + wait, deadline)  # wake up in time to give up on schedule
        await self.store.postpone(d.id, self.owner, until)
        self.observe.postponed(d, until, why)

    async def _dead(self, c: Claimed, attempts: int, reason: str) -> None:
        """Dead without sending (no attempt was made): the reason is recorded as an attempt row."""
        now = self.clock()
        if await self._finish(
            c, self._attempt(c.delivery.id, now, 0.0, "dead", reason=reason), DeliveryState.DEAD, reason
        ):
            self.observe.dead(c.delivery, attempts, reason)

    async def _hold(self, c: Claimed, held: Held) -> None:
        """Final without sending (suppressed, silenced): the reason is recorded as an attempt row."""
        attempt = self._attempt(c.delivery.id, self.clock(), 0.0, held.state.value, reason=held.reason)
        if await self._finish(c, attempt, held.state, held.reason, quieted_by=held.quieted_by):
            self.observe.held(c.delivery, held.state.value, held.cause, held.reason)

    async def _send(self, c: Claimed, sink: Sink, breaker: CircuitBreaker) -> None:
        d = c.delivery
        opts = self.options[d.sink_id]
        attempt_no = d.attempts + 1
        reservation = self.quiet.reservation(c)
        if reservation is not None:  # repeat_interval: decided just before sending
            decision = await self.quiet.reserve(c, reservation, self.clock() + self.settings.lease_seconds)
            if isinstance(decision, Held):
                await self._hold(c, decision)
                return
            if decision.verdict == "wait":
                why = f"repeat_interval: {decision.delivery_id} is sending the same content"
                await self._postpone(c, REPEAT_WAIT_SECONDS, why)  # then sent or suppressed by its outcome
                return
        async with self._semaphores[d.sink_id]:
            started = self.clock()
            t0 = time.perf_counter()
            try:
                # Valid when stored (routing validated them): one validation turns them back into
                # the sink's model. A sink of another kind by now under this id refuses them here.
                action = parse_action(sink.action_model, d.params or {})
                result = await sink.send(action, SendContext(d.id, attempt_no, c.envelope))
                error: DeliveryError | None = None
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a sink bug must not kill the worker or lose the delivery
                log.exception("sink %s raised unexpectedly", d.sink_id)
                error = DeliveryError(f"internal error in sink: {type(exc).__name__}", retryable=True)
            seconds = time.perf_counter() - t0
        finished = self.clock()
        if error is None:
            breaker.record_success()
            self.observe.attempt(d.sink_id, "succeeded", seconds)
            attempt = AttemptRow(
                d.id,
                attempt_no,
                started,
                finished,
                seconds * 1000,
                "succeeded",
                result.status,
                None,
                None,
                result.response_excerpt,
            )
            derived = derive(c, result, finished, self.router, self.settings.max_chain_depth) if d.emit else None
            run = started_run(sink, c, action, result, finished, self.poll_platforms)
            repeat = _record(reservation, d.id, True, finished)
            if await self._finish(c, attempt, DeliveryState.SUCCEEDED, None, derived=derived, run=run, repeat=repeat):
                self.observe.succeeded(d, finished)
            if derived is not None and derived[1]:
                self.notify()
            return
        if error.retryable:
            breaker.record_failure()
        else:
            # The destination is not at fault (it answered, or was never asked): the same
            # request would fail again, but other deliveries to this sink may go.
            breaker.record_success()
        self.observe.attempt(d.sink_id, "retryable" if error.retryable else "permanent", seconds)
        attempt = AttemptRow(
            d.id,
            attempt_no,
            started,
            finished,
            seconds * 1000,
            "failed",
            error.status,
            error_class(error),
            error.reason,
            error.response_excerpt,
        )
        if not error.retryable:
            reason = error.reason
        elif exhausted(attempt_no, opts.max_attempts, d.budget_start, finished, opts.max_age_seconds):
            reason = f"gave up after {attempt_no} attempts: {error.reason}"
        else:
            next_at = finished + next_delay(attempt_no, error.retry_after, rng=self.rng)
            repeat = _record(reservation, d.id, False, finished)
            if await self._finish(c, attempt, DeliveryState.RETRYING, error.reason, next_at=next_at, repeat=repeat):
                self.observe.failed(d, attempt_no, error.status, error.reason, next_at)
            return
        repeat = _record(reservation, d.id, False, finished)
        if await self._finish(c, attempt, DeliveryState.DEAD, reason, repeat=repeat):
            self.observe.dead(d, attempt_no, reason)

    async def _finish(
        self,
        c: Claimed,
        attempt: AttemptRow,
        state: DeliveryState,
        last_error: str | None,
        *,
        next_at: float | None = None,
        derived: tuple[NewEvent, list[Any]] | None = None,
        run: TriggeredRun | None = None,
        repeat: RepeatRecord | None = None,
        quieted_by: str | None = None,
    ) -> bool:
        outcome = Outcome(attempt, state, next_at, last_error, derived, run, repeat, quieted_by)
        if not await self.store.finish(c.delivery.id, self.owner, outcome):
            log.warning("delivery %s: lease lost before its attempt was recorded", c.delivery.id)
            return False
        return True

    @staticmethod
    def _attempt(delivery_id: str, now: float, duration: float, outcome: str, *, reason: str) -> AttemptRow:
        return AttemptRow(delivery_id, 0, now, now, duration, outcome, None, None, reason, None)


def _record(reservation: Reservation | None, delivery_id: str, sent: bool, at: float) -> RepeatRecord | None:
    """How a delivery that held a repeat reservation ended (recorded with its finish)."""
    if reservation is None:
        return None
    return RepeatRecord(reservation.key, reservation.content_sha256, delivery_id, sent, at)
