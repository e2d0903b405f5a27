"""When a watched run is polled next: pure arithmetic, no I/O, no clock (``engine.py`` asks).

* A poll that saw a change, or the first few that saw none, wait the platform's interval.
* While nothing changes the wait grows by a quarter per quiet poll past ``QUIET_POLLS``; a
  failing platform doubles it per consecutive failure. Both are capped at ``cap``.
* A ``Retry-After`` the platform sent wins when it asks for longer (bounded by
  ``MAX_RETRY_AFTER``: a platform cannot park a run for days).
* No poll is due after the run's give-up time: the last wait ends there, so ``max_duration``
  is kept to the second.
"""

from __future__ import annotations

QUIET_POLLS = 20  # 5 minutes at the default interval: a run still going then is a long one
QUIET_GROWTH = 1.25
MAX_RETRY_AFTER = 3600.0


def next_wait(
    base: float, cap: float, *, failures: int = 0, unchanged: int = 0, retry_after: float | None = None
) -> float:
    """Seconds until the next poll of a run polled every ``base`` seconds at best."""
    if failures > 0:
        wait = base * 2.0 ** min(failures, 20)
    elif unchanged > QUIET_POLLS:
        wait = base * QUIET_GROWTH ** min(unchanged - QUIET_POLLS, 60)
    else:
        wait = base
    wait = min(wait, max(cap, base))
    if retry_after is not None and retry_after > wait:
        wait = min(retry_after, MAX_RETRY_AFTER)
    return wait


def give_up_at(started_at: float, max_duration: float) -> float:
    return started_at + max_duration


def next_due(now: float, wait: float, started_at: float, max_duration: float) -> float:
    """When to poll next: after ``wait``, but never past the give-up time (then the run times out)."""
    return min(now + wait, give_up_at(started_at, max_duration))
