"""Value coercion for the envelope's data sections."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.sources import fields


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("str", "x", "x"),
        ("str", 42, "42"),
        ("str", "", None),
        ("str", None, None),
        ("int", "42", 42),
        ("int", 42.0, 42),
        ("int", " 7 ", 7),
        ("num", "1.5", 1.5),
        ("num", 3, 3),
        ("num", 2.0, 2),
        ("bool", "true", True),
        ("bool", 0, False),
        ("time", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
        ("time", "2026-01-02T03:04:05+02:00", "2026-01-02T01:04:05Z"),
        ("time", "2026-01-02T03:04:05", "2026-01-02T03:04:05Z"),
        ("time", 1767323045, "2026-01-02T03:04:05Z"),
        ("time", 1767323045500, "2026-01-02T03:04:05.500000Z"),
        ("outcome", "Passed", "passed"),
        ("outcome", "known_failure", "known_failure"),
    ],
)
def test_coerce(kind: str, value: Any, expected: Any) -> None:
    assert fields.coerce(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("str", {"a": 1}, "is not a string"),
        ("str", True, "is not a string"),
        ("int", "4.5", "is not an integer"),
        ("int", True, "is not an integer"),
        ("num", "fast", "is not a number"),
        ("num", float("nan"), "is not a finite number"),
        ("bool", "maybe", "is not a boolean"),
        ("time", "yesterday", "is not an ISO 8601"),
        ("time", [1], "is not a time"),
        ("outcome", "green", "is not an outcome"),
    ],
)
def test_coerce_rejects(kind: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fields.coerce(kind, value)


def test_section_fills_every_key_and_keeps_extra_metrics() -> None:
    built, problems = fields.section("metrics", {"rps": "10", "p50_latency_ms": 3, "p99_latency_ms": None})
    assert problems == []
    assert built == {
        "p95_latency_ms": None,
        "avg_latency_ms": None,
        "error_rate": None,
        "rps": 10,
        "total_requests": None,
        "p50_latency_ms": 3,
    }


def test_section_without_any_value_is_absent_and_bad_keys_are_reported() -> None:
    built, problems = fields.section("git", {"sha": None, "colour": "red"})
    assert built is None
    assert problems == ["data.git.colour: not a key of the git section"]
