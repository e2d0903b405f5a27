"""Fusillade: every documented event, metrics, thresholds and the garbage cases."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.sources.fusillade import parse_thresholds
from tests.sources.helpers import ABSENT, assert_fields, envelope_for, payload

CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "completed.json",
        {
            "type": "run.completed",
            "platform_event": "test.completed",
            "subject": "550e8400-e29b-41d4-a716-446655440000",
            "time": "2026-02-06T12:00:00Z",
            "data.run.outcome": "passed",
            "data.run.status": "completed",
            "data.run.name": "API Load Test",
            "data.run.url": None,
            "data.run.duration_ms": 60000,
            "data.run.finished_at": "2026-02-06T12:00:00Z",
            "data.run.started_at": None,
            "data.metrics.p95_latency_ms": 42,
            "data.metrics.error_rate": 0.001,
            "data.metrics.avg_latency_ms": None,
            "data.metrics.workers": 100,
            "data.thresholds": ABSENT,
            "normalize_error": ABSENT,
        },
    ),
    (
        "completed_thresholds_failed.json",
        {
            "type": "run.completed",
            "subject": "t-2",
            "data.run.outcome": "failed",
            "data.metrics.p99_latency_ms": 980,
            "data.metrics.rps": 1180,
            "data.metrics.total_requests": 70800,
            "data.thresholds": [
                {"name": "p95_latency_ms < 500", "passed": False, "value": 612.5, "limit": 500},
                {"name": "error_rate", "passed": True, "value": 0.02, "limit": "< 0.05"},
            ],
        },
    ),
    (
        "failed.json",
        {
            "type": "run.failed",
            "subject": "t-3",
            "data.run.outcome": "errored",
            "data.run.duration_ms": 30000,
            "data.metrics.p95_latency_ms": None,
        },
    ),
    (
        "started.json",
        {
            "type": "run.started",
            "subject": "t-4",
            "data.run.outcome": None,
            "data.run.duration_ms": None,
            "data.run.started_at": "2026-02-06T11:59:00Z",
            "data.run.finished_at": None,
        },
    ),
    ("ready.json", {"type": "run.ready", "subject": "t-5", "data.run.status": "ready"}),
    (
        "threshold_breached.json",
        {
            "type": "threshold.breached",
            "subject": "t-6",
            "data.run.outcome": None,
            "data.thresholds": [
                {"name": "p95 < 500", "passed": False, "value": 900, "limit": 500},
                {"name": "errors < 1%", "passed": True, "value": None, "limit": None},
            ],
        },
    ),
    ("scheduled.json", {"type": "run.scheduled", "subject": "t-7", "time": "2026-02-07T02:00:00Z"}),
]


@pytest.mark.parametrize(("name", "expected"), CASES, ids=[c[0] for c in CASES])
def test_documented_events(name: str, expected: dict[str, Any]) -> None:
    _, env = envelope_for("fusillade", payload("fusillade", name))
    assert_fields(env, {"platform": "fusillade", "source": "fusillade-src", **expected})
    assert env["raw"]["event"] == env["platform_event"]


GARBAGE = [
    ("unknown_event.json", "unknown event 'test.exploded'", "test.exploded"),
    ("missing_data.json", "'data' is missing or not an object", "test.completed"),
    ("not_json.json", "body is not valid JSON", None),
    ("empty.json", "body is empty", None),
    ("array.json", "expected a JSON object, got list", None),
]


@pytest.mark.parametrize(("name", "reason", "platform_event"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_unusable_bodies_become_unknown(name: str, reason: str, platform_event: str | None) -> None:
    _, env = envelope_for("fusillade", payload("fusillade", name))
    assert env["type"] == "fusillade.unknown"
    assert reason in env["normalize_error"]
    assert env["platform_event"] == platform_event
    assert env["time"] == "2026-01-02T03:04:05.000Z"  # falls back to the received time
    assert env["data"] == {}


def test_partial_payload_keeps_what_it_can_and_says_what_it_could_not() -> None:
    _, env = envelope_for("fusillade", payload("fusillade", "partial.json"))
    assert_fields(
        env,
        {
            "type": "run.completed",
            "subject": None,
            "data.run.name": "no id, no timestamp",
            "data.metrics": ABSENT,
        },
    )
    assert "data.metrics.p95_latency_ms: 'oops' is not a number" in env["normalize_error"]
    assert "data.test_id is missing" in env["normalize_error"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ([], None),
        ("garbage", None),
        ([{"name": "a", "status": "failed", "measured": 3, "expected": 2}], [("a", False, 3, 2)]),
        ([{"threshold_name": "b", "pass": "true"}], [("b", True, None, None)]),
        ([{"expression": "c", "result": "breached"}], [("c", False, None, None)]),
        ([{"name": "d"}, "not-an-object"], [("d", None, None, None)]),
        ({"e": False}, [("e", False, None, None)]),
    ],
)
def test_threshold_variants(value: Any, expected: list[tuple[Any, ...]] | None) -> None:
    got = parse_thresholds(value)
    if expected is None:
        assert got is None
    else:
        assert [(t["name"], t["passed"], t["value"], t["limit"]) for t in got or []] == expected


def test_overlay_overrides_a_field() -> None:
    options = {"data.run.url": "https://fusillade.example/tests/{{ payload.data.test_id }}"}
    _, env = envelope_for("fusillade", payload("fusillade", "completed.json"), options=options)
    assert env["data"]["run"]["url"] == "https://fusillade.example/tests/550e8400-e29b-41d4-a716-446655440000"
    assert env["type"] == "run.completed"
    assert "normalize_error" not in env
