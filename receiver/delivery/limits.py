"""Per-sink limits with an injected clock: a token bucket and a circuit breaker.

Neither sleeps: they answer "may I go now / how long to wait", and the dispatcher
schedules. ``clock`` is any zero-argument callable returning seconds (monotonic).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full."""

    def __init__(self, rate: float, burst: int = 1, clock: Clock = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        # A clock that steps back must not mint or destroy tokens.
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now

    def try_acquire(self) -> float:
        """0.0 and a token taken if one is available now, else the seconds until one is."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def reserve(self) -> float:
        """Take a token now, borrowing ahead if none is left; returns the seconds to wait
        before using it. Reservations queue fairly: the n-th waiter waits n/rate."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0.0 else -self._tokens / self.rate

    def cancel(self) -> None:
        """Give back a reservation that will not be used."""
        self._tokens = min(float(self.burst), self._tokens + 1.0)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown`` s lets one probe through.

    A successful probe closes it; a failed probe re-opens it for another cooldown. A probe
    that ends without testing the destination (postponed, superseded, never sent) must be
    given back with :meth:`release`, or no probe would ever go again.
    """

    def __init__(self, threshold: int = 5, cooldown: float = 30.0, clock: Clock = time.monotonic) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def allow(self) -> bool:
        """Whether an attempt may go now; in half-open state only one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        if self._probe_out:
            return False
        self._state = BreakerState.HALF_OPEN
        self._probe_out = True
        return True

    def retry_in(self) -> float:
        """Seconds until ``allow()`` may answer True (0 when it would now)."""
        if self._state is BreakerState.CLOSED:
            return 0.0
        if self._state is BreakerState.HALF_OPEN and self._probe_out:
            return self.cooldown  # the probe's outcome decides; check back later
        return max(0.0, self._opened_at + self.cooldown - self._clock())

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_out = False

    def release(self) -> None:
        """The probe ended without a verdict on the destination: the next attempt probes instead.

        A no-op unless a probe is out, so it is safe to call after any attempt.
        """
        if self._state is BreakerState.HALF_OPEN:
            self._probe_out = False

    def record_failure(self) -> None:
        self._failures += 1
        self._probe_out = False
        if self._state is not BreakerState.CLOSED or self._failures >= self.threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
