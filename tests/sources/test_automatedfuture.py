"""Automated Future: run and result objects, bare or wrapped, snake or camel case."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sources.helpers import ABSENT, assert_fields, envelope_for, payload

CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "result_wrapped_passed.json",
        {
            "type": "result.reported",
            "subject": "run_xyz789",
            "platform_event": "test_result.passed",
            "time": "2025-01-15T10:31:01Z",
            "data.test": {
                "id": "res_def456",
                "name": "test_user_login",
                "status": "Passed",
                "outcome": "passed",
                "error_message": None,
                "duration_ms": 1250,
            },
            "data.run.id": "run_xyz789",
            "data.run.name": "Nightly tests",
            "data.run.project": "project_abc123",
            "data.run.outcome": None,
            "normalize_error": ABSENT,
        },
    ),
    (
        "result_bare_failed.json",
        {
            "type": "result.reported",
            "subject": "run_xyz789",
            "data.test.outcome": "failed",
            "data.test.error_message": "Assertion failed",
            "data.test.duration_ms": 3200,
            "data.test.id": None,
        },
    ),
    (
        "result_camel_knownfail.json",
        {
            "type": "result.reported",
            "subject": "run_xyz789",
            "data.test.outcome": "known_failure",
            "data.test.name": "test_flaky_search",
            "data.test.error_message": "ticket QA-12",
            "data.test.duration_ms": 800,
            "data.run.project": "project_abc123",
        },
    ),
    (
        "result_skipped_no_run.json",
        {"type": "result.reported", "subject": None, "data.test.outcome": "skipped", "data.run.id": None},
    ),
    (
        "result_running.json",
        {"type": "result.reported", "data.test.outcome": None, "time": "2025-01-15T10:35:00Z"},
    ),
    (
        "run_pending.json",
        {
            "type": "run.queued",
            "subject": "run_xyz789",
            "platform_event": "test_run.pending",
            "time": "2025-01-15T10:30:00Z",
            "data.run.name": "Nightly tests",
            "data.run.outcome": None,
            "data.counts": ABSENT,
        },
    ),
    (
        "run_running_camel.json",
        {"type": "run.started", "subject": "run_xyz789", "data.run.started_at": "2025-01-15T10:30:30Z"},
    ),
    (
        "run_completed_failed.json",
        {
            "type": "run.completed",
            "subject": "run_xyz789",
            "data.run.outcome": "failed",
            "data.run.duration_ms": 600000,
            "data.counts": {"total": 46, "passed": 40, "failed": 2, "skipped": 3, "known_failure": 1},
        },
    ),
    (
        "run_completed_passed_bare.json",
        {
            "type": "run.completed",
            "subject": "run_abc",
            "data.run.outcome": "passed",
            "data.run.name": "CI #42",
            "data.counts": {"total": 12, "passed": 12, "failed": 0, "skipped": None, "known_failure": None},
        },
    ),
    (
        "run_completed_no_counts.json",
        {"type": "run.completed", "subject": "run_nc", "data.run.outcome": None, "data.counts": ABSENT},
    ),
]


@pytest.mark.parametrize(("name", "expected"), CASES, ids=[c[0] for c in CASES])
def test_objects(name: str, expected: dict[str, Any]) -> None:
    _, env = envelope_for("automatedfuture", payload("automatedfuture", name))
    assert_fields(env, {"platform": "automatedfuture", **expected})


def test_unknown_result_status_is_kept_and_explained() -> None:
    _, env = envelope_for("automatedfuture", payload("automatedfuture", "result_odd_status.json"))
    assert_fields(env, {"type": "result.reported", "data.test.status": "Flaky", "data.test.outcome": None})
    assert "'Flaky' is not an Automated Future result status" in env["normalize_error"]


GARBAGE = [
    ("run_unknown_status.json", "unknown test run status 'Exploded'"),
    ("project.json", "neither a test run nor a test result object"),
    ("not_json.json", "body is not valid JSON"),
    ("empty.json", "body is empty"),
    ("array.json", "expected a JSON object, got list"),
]


@pytest.mark.parametrize(("name", "reason"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_unusable_bodies_become_unknown(name: str, reason: str) -> None:
    _, env = envelope_for("automatedfuture", payload("automatedfuture", name))
    assert env["type"] == "automatedfuture.unknown"
    assert reason in env["normalize_error"]


def test_overlay_can_rescue_an_unknown_shape() -> None:
    options = {"type": {"value": "run.completed"}, "subject": "projects.0.project_id"}
    _, env = envelope_for("automatedfuture", payload("automatedfuture", "project.json"), options=options)
    assert_fields(env, {"type": "run.completed", "subject": "project_abc123", "normalize_error": ABSENT})


def test_overlay_adds_git_from_metadata() -> None:
    body = (
        b'{"test_run": {"test_run_id": "r1", "status": "Running", "metadata": {"sha": "abc", "repo": "o/n"}}}'
    )
    options = {"data.git.sha": "test_run.metadata.sha", "data.git.repo": "test_run.metadata.repo"}
    _, env = envelope_for("automatedfuture", body, options=options)
    assert_fields(
        env, {"type": "run.started", "subject": "r1", "data.git.sha": "abc", "data.git.repo": "o/n"}
    )
