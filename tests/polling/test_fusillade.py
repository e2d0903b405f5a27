"""The Fusillade poller (receiver/polling/fusillade.py): each status of the documented flow as the
webhook adapter's event, final or not, and what it makes of answers it cannot read."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from receiver.errors import DeliveryError
from receiver.polling.base import PollResult
from receiver.polling.fusillade import FusilladePoller
from receiver.sinks.base import SendResult


def poll(answer: Any, cursor: Mapping[str, Any] | None = None) -> tuple[PollResult, list[str]]:
    asked: list[str] = []

    async def fetch(path: str, params: Mapping[str, str]) -> SendResult:
        asked.append(path)
        return SendResult(200, None, answer)

    return asyncio.run(FusilladePoller().poll("t/1", cursor or {}, fetch)), asked


@pytest.mark.parametrize(
    ("status", "type", "outcome", "final"),
    [
        ("provisioning", "run.queued", None, False),
        ("ready", "run.ready", None, False),
        ("pending", "run.queued", None, False),
        ("running", "run.started", None, False),
        ("paused", "run.paused", None, False),
        ("completed", "run.completed", "passed", True),
        ("failed", "run.failed", "errored", True),
        ("cancelled", "run.cancelled", "cancelled", True),
        ("stopped", "run.stopped", "cancelled", True),
        ("exploded", "fusillade.unknown", None, False),
    ],
)
def test_each_status_is_the_webhooks_event(status: str, type: str, outcome: str | None, final: bool) -> None:
    result, asked = poll({"test_id": "t/1", "name": "smoke", "status": status, "p95_latency_ms": 42})
    assert asked == ["/api/v1/tests/t%2F1"]  # the id is one path segment
    (observation,) = result.observations
    n = observation.normalized
    assert (observation.key, n.type, n.platform_event, result.final, result.cursor) == (
        f"status:{status}", type, "poll", final, {"status": status, "visits": {status: 1}})  # fmt: skip
    if type != "fusillade.unknown":
        assert (n.subject, n.data["run"]["outcome"], n.data["metrics"]["p95_latency_ms"]) == ("t/1", outcome, 42)


def test_a_breached_threshold_fails_a_completed_test_and_a_wrapped_answer_is_read() -> None:
    test = {"status": "completed", "thresholds": [{"name": "p95<100", "passed": False, "value": 130, "limit": 100}]}
    result, _ = poll({"test": test})
    (observation,) = result.observations
    assert observation.normalized.data["run"]["outcome"] == "failed"
    assert observation.normalized.data["thresholds"] == [{"name": "p95<100", "passed": False, "value": 130,
                                                           "limit": 100}]  # fmt: skip


def test_the_status_seen_last_time_makes_no_observation() -> None:
    result, _ = poll({"status": "running"}, {"status": "running"})
    assert (result.observations, result.final, result.cursor) == ([], False, {"status": "running", "visits": {}})


@pytest.mark.parametrize("answer", [None, [1, 2], {"name": "no status"}, {"status": ""}])
def test_an_answer_without_a_status_is_a_failed_poll(answer: Any) -> None:
    with pytest.raises(DeliveryError) as err:
        poll(answer)
    assert err.value.retryable


def test_a_status_the_run_comes_back_to_is_an_event_again_and_a_repeat_is_not() -> None:
    """running → paused → running: the return is observed (its own key), seeing it again is not."""
    cursor: Mapping[str, Any] = {}
    keys = []
    for status in ("running", "paused", "paused", "running", "running", "completed"):
        result, _ = poll({"status": status}, cursor)
        keys.append([o.key for o in result.observations])
        cursor = result.cursor
    assert keys == [["status:running"], ["status:paused"], [], ["status:running#2"], [], ["status:completed"]]
