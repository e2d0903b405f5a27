"""Retry policy as pure functions: when to try again (backoff) and when to give up.

How a destination's answer reads (success, retryable, Retry-After) is the sinks' business:
:mod:`receiver.sinks.answers`. Nothing here sleeps or reads the clock; ``now`` and the random
source are passed in so the dispatcher and the tests decide time.
"""

from __future__ import annotations

import random

from receiver.errors import DeliveryError


def backoff(
    attempt: int,
    base: float = 2.0,
    cap: float = 3600.0,
    rng: random.Random | None = None,
    *,
    jitter: bool = True,
) -> float:
    """Delay before attempt ``attempt + 1`` after attempt ``attempt`` (1-based) failed.

    Exponential (``base * 2**(attempt-1)``, capped) with "full jitter": uniform in
    [0, ceiling], which spreads a burst of failing deliveries out best. The delay
    never goes below 1 s so a fast-failing destination is not hammered.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 62))
    if jitter:
        ceiling = (rng if rng is not None else random.Random()).uniform(0.0, ceiling)
    return min(cap, max(1.0, ceiling))


def decorrelated_backoff(
    previous: float, base: float = 2.0, cap: float = 3600.0, rng: random.Random | None = None
) -> float:
    """ "Decorrelated jitter": uniform in [base, 3 * previous], capped; start with previous=base."""
    r = rng if rng is not None else random.Random()
    return min(cap, r.uniform(base, max(base, previous * 3.0)))


def next_delay(
    attempt: int,
    retry_after: float | None,
    base: float = 2.0,
    cap: float = 3600.0,
    rng: random.Random | None = None,
) -> float:
    """The wait before the next attempt: the destination's hint wins when it asks for longer."""
    delay = backoff(attempt, base, cap, rng)
    return max(delay, retry_after) if retry_after is not None else delay


def exhausted(attempt: int, max_attempts: int, first_attempt_at: float, now: float, max_age: float) -> bool:
    """Whether a delivery that just failed its ``attempt``-th try should go dead instead of retrying."""
    return attempt >= max_attempts or now - first_attempt_at >= max_age


def error_class(error: DeliveryError) -> str:
    """How a failed attempt is classed in the attempt log: ``http_<status>``, else ``transient``
    (retryable) or ``permanent``."""
    if error.status is not None:
        return f"http_{error.status}"
    return "transient" if error.retryable else "permanent"
