from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from receiver.delivery.policy import (
    backoff,
    classify,
    decorrelated_backoff,
    exhausted,
    is_success,
    next_delay,
    parse_retry_after,
    repeats,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "success", "retryable"),
    [
        (200, True, False),
        (201, True, False),
        (204, True, False),
        (301, False, False),
        (400, False, False),
        (401, False, False),
        (403, False, False),
        (404, False, False),
        (408, False, True),
        (409, False, True),
        (410, False, False),
        (422, False, False),
        (425, False, True),
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
        (599, False, True),
    ],
)
def test_classify(status: int, success: bool, retryable: bool) -> None:
    assert is_success(status) is success
    assert classify(status) is retryable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("  7 ", 7.0),
        ("0", 1.0),  # clamped up: never retry in a tight loop
        ("0.2", 1.0),
        ("99999", 3600.0),  # clamped down
        (formatdate(NOW + 30, usegmt=True), 30.0),
        (formatdate(NOW - 30, usegmt=True), 1.0),  # a date in the past means "now", clamped
        (formatdate(NOW + 86400, usegmt=True), 3600.0),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (12, 3600.0), (500, 3600.0)],
)
def test_backoff_full_jitter_stays_in_bounds(attempt: int, ceiling: float) -> None:
    rng = random.Random(42)
    delays = [backoff(attempt, rng=rng) for _ in range(200)]
    assert all(1.0 <= d <= ceiling for d in delays)
    # Jitter really spreads: not all the same value (ceilings above the floor only).
    if ceiling > 2.0:
        assert len({round(d, 3) for d in delays}) > 100


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "expected"),
    [(1, 2.0, 3600, 2.0), (2, 2.0, 3600, 4.0), (4, 1.0, 3600, 8.0), (20, 2.0, 600, 600.0), (1, 0.1, 10, 1.0)],
)
def test_backoff_without_jitter_is_exponential(attempt: int, base: float, cap: float, expected: float) -> None:
    assert backoff(attempt, base, cap, jitter=False) == expected


def test_backoff_is_reproducible_with_seeded_rng() -> None:
    assert backoff(5, rng=random.Random(7)) == backoff(5, rng=random.Random(7))


def test_decorrelated_backoff_grows_within_bounds() -> None:
    rng = random.Random(1)
    delay = 2.0
    for _ in range(50):
        nxt = decorrelated_backoff(delay, base=2.0, cap=300.0, rng=rng)
        assert 2.0 <= nxt <= min(300.0, delay * 3)
        delay = nxt


@pytest.mark.parametrize(
    ("retry_after", "at_least"),
    [(None, 1.0), (120.0, 120.0), (0.5, 1.0)],
)
def test_next_delay_honours_longer_retry_after(retry_after: float | None, at_least: float) -> None:
    delay = next_delay(1, retry_after, rng=random.Random(3))
    assert delay >= at_least
    assert delay <= max(2.0, retry_after or 0)


@pytest.mark.parametrize(
    ("attempt", "max_attempts", "age", "max_age", "dead"),
    [(1, 8, 0, 86400, False), (8, 8, 10, 86400, True), (3, 8, 86400, 86400, True), (3, 8, 100, 86400, False)],
)
def test_exhausted(attempt: int, max_attempts: int, age: float, max_age: float, dead: bool) -> None:
    assert exhausted(attempt, max_attempts, NOW - age, NOW, max_age) is dead


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("No message body or attachment was specified.", True),
        ("no message content specified to deliver", True),
        ("A Connection error occurred sending JSON notification to 127.0.0.1.", False),
        ("SMTP server refused the connection", False),
        ("timed out after 10s", False),
    ],
)
def test_repeats(detail: str, expected: bool) -> None:
    assert repeats(detail) is expected
