"""The next poll's wait (receiver/polling/schedule.py): the interval, backing off, Retry-After, the cap."""

from __future__ import annotations

import pytest

from receiver.polling.schedule import MAX_RETRY_AFTER, QUIET_POLLS, next_due, next_wait


@pytest.mark.parametrize(
    ("failures", "unchanged", "retry_after", "expected"),
    [
        (0, 0, None, 15.0),  # a change, or the first poll
        (0, QUIET_POLLS, None, 15.0),  # a few quiet polls keep the interval
        (0, QUIET_POLLS + 1, None, 18.75),  # then it grows by a quarter per quiet poll
        (0, QUIET_POLLS + 2, None, 23.4375),
        (0, 1000, None, 120.0),  # capped
        (1, 0, None, 30.0),  # failures double it
        (2, 7, None, 60.0),  # failures count, not quiet polls
        (3, 0, None, 120.0),
        (50, 0, None, 120.0),  # capped
        (1, 0, 10.0, 30.0),  # a shorter Retry-After changes nothing
        (1, 0, 300.0, 300.0),  # a longer one wins, past the cap
        (1, 0, 10 * MAX_RETRY_AFTER, MAX_RETRY_AFTER),  # but not beyond its own bound
    ],
)
def test_next_wait(failures: int, unchanged: int, retry_after: float | None, expected: float) -> None:
    assert next_wait(15.0, 120.0, failures=failures, unchanged=unchanged, retry_after=retry_after) == expected


def test_a_cap_below_the_interval_keeps_the_interval() -> None:
    assert next_wait(30.0, 10.0, failures=3) == 30.0


@pytest.mark.parametrize(
    ("now", "wait", "expected"),
    [(100.0, 15.0, 115.0), (3590.0, 15.0, 3600.0), (3600.0, 15.0, 3600.0)],  # never past the give-up time
)
def test_next_due_ends_at_the_give_up_time(now: float, wait: float, expected: float) -> None:
    assert next_due(now, wait, started_at=0.0, max_duration=3600.0) == expected
