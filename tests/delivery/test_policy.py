from __future__ import annotations

import random

import pytest

from receiver.delivery.policy import backoff, decorrelated_backoff, exhausted, next_delay

NOW = 1_700_000_000.0


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
