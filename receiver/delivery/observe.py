"""What the dispatcher tells operators: one structured log line and the metrics per happening.

Every failed attempt, dead delivery and breaker change is logged (``receiver.logfmt``)
and counted (``receiver.metrics``). Reasons come from the sinks already redacted; the
params and the event body are never logged.
"""

from __future__ import annotations

import logging

from receiver.delivery.limits import BreakerState, CircuitBreaker
from receiver.events import isoformat
from receiver.logfmt import log_event
from receiver.metrics import Metrics
from receiver.store.base import DeliveryRow

log = logging.getLogger("hookyard.delivery")

_BREAKER_LEVEL = {BreakerState.OPEN: logging.WARNING, BreakerState.HALF_OPEN: logging.INFO}


class Observer:
    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self._breakers: dict[str, BreakerState] = {}

    def attempt(self, sink: str, outcome: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.attempt(sink, outcome, seconds)

    def succeeded(self, d: DeliveryRow, finished: float) -> None:
        if self.metrics is not None:
            self.metrics.finished(d.sink_id, "succeeded", finished - d.created_at)

    def superseded(self, d: DeliveryRow) -> None:
        log_event(log, logging.INFO, "delivery.superseded", delivery=d.id, sink=d.sink_id, rule=d.rule)
        if self.metrics is not None:
            self.metrics.finished(d.sink_id, "superseded")

    def held(self, d: DeliveryRow, state: str, cause: str, reason: str) -> None:
        """Suppressed or silenced on purpose (never sent): ``cause`` is silence, mute_time or repeat_interval."""
        log_event(log, logging.INFO, f"delivery.{state}", delivery=d.id, sink=d.sink_id, rule=d.rule, reason=reason)
        if self.metrics is not None:
            self.metrics.finished(d.sink_id, state)
            self.metrics.held(d.sink_id, state, cause)

    def failed(self, d: DeliveryRow, attempt: int, status: int | None, reason: str, next_at: float) -> None:
        log_event(
            log, logging.WARNING, "delivery.failed", delivery=d.id, sink=d.sink_id, rule=d.rule, attempt=attempt,
            status=status, reason=reason, next_attempt=isoformat(next_at),
        )

    def dead(self, d: DeliveryRow, attempts: int, reason: str) -> None:
        log_event(
            log, logging.ERROR, "delivery.dead", delivery=d.id, sink=d.sink_id, rule=d.rule, attempts=attempts,
            reason=reason,
        )
        if self.metrics is not None:
            self.metrics.finished(d.sink_id, "dead")

    def postponed(self, d: DeliveryRow, until: float, why: str) -> None:
        log_event(
            log, logging.DEBUG, "delivery.postponed", delivery=d.id, sink=d.sink_id, until=isoformat(until), why=why
        )

    def breaker(self, sink: str, breaker: CircuitBreaker) -> None:
        """Log and export the breaker's state when it changed since the last look."""
        state = breaker.state
        before = self._breakers.get(sink)
        if state is before:
            return
        self._breakers[sink] = state
        if self.metrics is not None:
            self.metrics.breaker(sink, state.value)
        if before is not None:  # the first look at a sink is its start, not a change
            level = _BREAKER_LEVEL.get(state, logging.INFO)
            log_event(log, level, f"breaker.{state.value}", sink=sink, was=before.value, failures=breaker.failures)
