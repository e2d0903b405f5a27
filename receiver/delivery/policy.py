"""Retry policy as pure functions: classify a status, read Retry-After, compute backoff.

Nothing here sleeps or reads the clock; ``now`` and the random source are passed in
so the dispatcher and the tests decide time.
"""

from __future__ import annotations

import math
import random
import re
from email.utils import parsedate_to_datetime

RETRY_AFTER_MIN = 1.0
RETRY_AFTER_MAX = 3600.0

# Besides 5xx: timeout, conflict (often a concurrent update), too early, too many requests.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def is_success(status: int) -> bool:
    return 200 <= status < 300


def classify(status: int) -> bool:
    """Whether a failed attempt that got ``status`` may succeed if tried again.

    2xx is not a failure and 3xx (redirects are never followed) and other 4xx
    are the caller's problem, so all of those answer False.
    """
    return status in _RETRYABLE_4XX or 500 <= status < 600


# Failures reported only as text (no HTTP status) whose cause is the request itself, so
# sending it again fails the same way: Apprise refuses an empty message before sending.
_REPEATS = re.compile(r"no message body|no message content|message body is empty", re.IGNORECASE)


def repeats(detail: str) -> bool:
    """Whether a failure known only by its text (no HTTP status) would fail the same way again."""
    return _REPEATS.search(detail) is not None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), in [1, 3600].

    Returns None when the value is absent or unreadable, so the caller falls back
    to its own backoff.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may lack the zone
            return None
        seconds = when.timestamp() - now
    else:
        if not math.isfinite(seconds) or seconds < 0:
            return None
    return min(max(seconds, RETRY_AFTER_MIN), RETRY_AFTER_MAX)


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
