from __future__ import annotations

import pytest

from receiver.delivery.limits import BreakerState, CircuitBreaker, TokenBucket
from tests.helpers import FakeClock


@pytest.mark.parametrize(
    ("rate", "burst", "script"),
    [
        # (advance seconds before the call, expected wait answered)
        (1.0, 1, [(0, 0.0), (0, 1.0), (0.5, 0.5), (0.5, 0.0), (0, 1.0)]),
        (2.0, 3, [(0, 0.0), (0, 0.0), (0, 0.0), (0, 0.5), (0.5, 0.0), (0, 0.5)]),
        (0.5, 1, [(0, 0.0), (1, 1.0), (1, 0.0)]),
        # Idle time saves up at most `burst` tokens.
        (1.0, 2, [(0, 0.0), (0, 0.0), (100, 0.0), (0, 0.0), (0, 1.0)]),
    ],
)
def test_token_bucket(clock: FakeClock, rate: float, burst: int, script: list[tuple[float, float]]) -> None:
    bucket = TokenBucket(rate, burst, clock)
    for advance, wait in script:
        clock.advance(advance)
        assert bucket.try_acquire() == pytest.approx(wait)


def test_token_bucket_ignores_clock_going_back(clock: FakeClock) -> None:
    bucket = TokenBucket(1.0, 1, clock)
    assert bucket.try_acquire() == 0.0
    clock.advance(-50)
    assert bucket.try_acquire() == pytest.approx(1.0)
    clock.advance(1)
    assert bucket.try_acquire() == 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_token_bucket_rejects_bad_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


def test_breaker_opens_after_threshold_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=30, clock=clock)
    for _ in range(2):
        breaker.record_failure()
        assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.record_success()  # resets the count: failures must be consecutive
    assert breaker.failures == 0
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(30)


def test_breaker_half_open_allows_one_probe_then_closes_on_success(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=clock)
    breaker.record_failure()
    clock.advance(29.9)
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(0.1)
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # nobody else while it is out
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_breaker_failed_probe_reopens_for_a_full_cooldown(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=10, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.advance(9)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.allow()


@pytest.mark.parametrize(
    ("ending", "state", "next_allowed"),
    [
        ("record_success", BreakerState.CLOSED, True),
        ("record_failure", BreakerState.OPEN, False),
        ("release", BreakerState.HALF_OPEN, True),  # the probe sent nothing: the next one probes
    ],
)
def test_breaker_every_probe_ending_settles_it(
    clock: FakeClock, ending: str, state: BreakerState, next_allowed: bool
) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow() and not breaker.allow()  # the probe is out
    getattr(breaker, ending)()
    assert breaker.state is state
    assert breaker.allow() is next_allowed


def test_breaker_release_outside_a_probe_changes_nothing(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.release()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    breaker.release()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
