"""How a destination's answer reads: success, worth retrying, how long it asks us to wait.

Every sink classifies its own answers with these (the dispatcher then schedules by the
sink's verdict: :mod:`receiver.delivery.policy`). Pure functions: ``now`` is passed in.
"""

from __future__ import annotations

import math
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
