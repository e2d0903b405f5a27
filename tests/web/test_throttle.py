"""Wrong tokens per client: a burst, then one attempt per leak interval (fake clock)."""

from __future__ import annotations

import pytest

from receiver.web.throttle import FailureThrottle
from tests.helpers import FakeClock


@pytest.mark.parametrize(
    ("failures", "elapsed", "wait"),
    [
        (0, 0.0, None),
        (3, 0.0, None),
        (3, 6.0, None),
        (9, 0.0, None),  # the 10th attempt may still be made
        (10, 0.0, 6),  # burst used up: wait for one failure to leak away
        (10, 5.0, 1),
        (10, 6.0, None),
        (12, 0.0, 18),
        (12, 17.5, 1),
        (12, 18.0, None),
        (40, 0.0, 186),
    ],
)
def test_retry_after(failures: int, elapsed: float, wait: int | None) -> None:
    clock = FakeClock(5000.0)
    throttle = FailureThrottle(clock, burst=10, every=6.0)
    for _ in range(failures):
        throttle.failed("10.0.0.1")
    clock.now += elapsed
    assert throttle.retry_after("10.0.0.1") == wait
    assert throttle.retry_after("10.0.0.2") is None  # per client


def test_memory_is_bounded() -> None:
    throttle = FailureThrottle(FakeClock(), burst=1, every=60.0, max_clients=3)
    for client in ("a", "b", "c", "d"):
        throttle.failed(client)
    assert [throttle.retry_after(c) is not None for c in ("a", "b", "c", "d")] == [False, True, True, True]
