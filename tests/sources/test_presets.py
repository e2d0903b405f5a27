"""The nunu, bug0 and fume presets: assumed shapes, variants, garbage, and overrides."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sources.helpers import ABSENT, assert_fields, envelope_for, payload

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "nunu",
        "run_completed_wrapped.json",
        {
            "type": "run.completed",
            "subject": "run_n1",
            "platform_event": "completed",
            "time": "2026-03-01T10:20:00Z",
            "data.run": {
                "id": "run_n1",
                "name": "Smoke: main menu",
                "project": "proj_g",
                "status": "completed",
                "outcome": "passed",
                "url": "https://app.nunu.ai/runs/run_n1",
                "ci_url": None,
                "started_at": "2026-03-01T10:00:00Z",
                "finished_at": "2026-03-01T10:20:00Z",
                "duration_ms": None,
            },
            "data.bug": ABSENT,
            "data.git": ABSENT,
        },
    ),
    (
        "nunu",
        "run_running_snake.json",
        {"type": "run.started", "subject": "run_n2", "data.run.outcome": None},
    ),
    (
        "nunu",
        "run_failed_bare.json",
        {"type": "run.completed", "subject": "run_n3", "data.run.outcome": "failed"},
    ),
    ("nunu", "run_error.json", {"type": "run.failed", "subject": "run_n4", "data.run.outcome": "errored"}),
    ("nunu", "run_queued.json", {"type": "run.queued", "time": "2026-03-01T09:59:00Z"}),
    (
        "nunu",
        "bug.json",
        {
            "type": "bug.reported",
            "subject": "run_n1",
            "platform_event": "bug",
            "time": "2026-03-01T10:05:00Z",
            "data.bug": {
                "id": "bug_77",
                "title": "Player falls through floor",
                "severity": "high",
                "url": "https://app.nunu.ai/bugs/bug_77",
            },
        },
    ),
    (
        "nunu",
        "bug_bare.json",
        {"type": "bug.reported", "subject": "run_n1", "data.bug.id": "bug_78", "data.bug.severity": "low"},
    ),
    (
        "bug0",
        "execution_completed.json",
        {
            "type": "run.completed",
            "subject": "exec_abc123def456",
            "data.run.outcome": "failed",
            "data.run.url": "https://app.bug0.com/executions/exec_abc123def456",
            "data.counts": {"total": 10, "passed": 8, "failed": 2, "skipped": 0, "known_failure": None},
            "data.git": {
                "repo": "your-org/your-repo",
                "sha": "abc123def456789",
                "branch": "feature/new-checkout",
                "pr": 42,
            },
        },
    ),
    (
        "bug0",
        "execution_queued_wrapped.json",
        {
            "type": "run.queued",
            "subject": "exec_q1",
            "data.git": {"repo": "your-org/your-repo", "sha": "abc123", "branch": "main", "pr": None},
        },
    ),
    (
        "bug0",
        "execution_passed_full_repo.json",
        {
            "type": "run.completed",
            "data.run.outcome": "passed",
            "data.git.repo": "your-org/your-repo",
            "data.git.pr": 7,
            "data.run.started_at": "2026-03-02T07:50:00Z",
        },
    ),
    (
        "fume",
        "run_queued.json",
        {
            "type": "run.queued",
            "subject": "run_42ab3d",
            "data.run.ci_url": "https://github.com/your-org/your-repo/actions/runs/1234567",
            "data.run.project": "proj_123",
            "data.git": {"repo": "your-org/your-repo", "sha": "abc123", "branch": "main", "pr": None},
        },
    ),
    (
        "fume",
        "run_completed_wrapped.json",
        {
            "type": "run.completed",
            "subject": "run_7",
            "data.run.outcome": "passed",
            "data.run.ci_url": "https://ci.example.com/builds/9",
            "data.git": {"repo": None, "sha": "fff111", "branch": "feature/x", "pr": None},
            "data.counts.total": 5,
        },
    ),
    (
        "fume",
        "run_failed.json",
        {
            "type": "run.completed",
            "data.run.outcome": "failed",
            "data.counts.failed": 2,
            "data.git.sha": "abc999",
        },
    ),
    ("fume", "trigger_minimal.json", {"type": "run.queued", "subject": "run_42ab3d", "data.git": ABSENT}),
]


@pytest.mark.parametrize(("kind", "name", "expected"), CASES, ids=[f"{c[0]}/{c[1]}" for c in CASES])
def test_preset_shapes(kind: str, name: str, expected: dict[str, Any]) -> None:
    _, env = envelope_for(kind, payload(kind, name))
    assert_fields(env, {"platform": kind, "normalize_error": ABSENT, **expected})


GARBAGE = [
    ("nunu", "unknown_status.json", "type: 'teleported' is not in the map"),
    ("nunu", "no_status.json", "type: template failed"),
    ("nunu", "not_json.json", "body is not valid JSON"),
    ("nunu", "empty.json", "body is empty"),
    ("nunu", "array.json", "type: template failed: 'list object' has no attribute 'status'"),
    ("bug0", "trigger_response.json", "type: no value at status or state"),
    ("bug0", "null.json", "type: no value at status or state"),
    ("bug0", "empty.json", "body is empty"),
    ("bug0", "array.json", "type: no value at status or state"),
    ("fume", "unknown_status.json", "type: 'generating' is not in the map"),
    ("fume", "not_json.json", "body is not valid JSON"),
    ("fume", "empty.json", "body is empty"),
    ("fume", "array.json", "type: no value"),
]


@pytest.mark.parametrize(("kind", "name", "reason"), GARBAGE, ids=[f"{g[0]}/{g[1]}" for g in GARBAGE])
def test_unusable_bodies_become_unknown(kind: str, name: str, reason: str) -> None:
    _, env = envelope_for(kind, payload(kind, name))
    assert env["type"] == f"{kind}.unknown"
    assert reason in env["normalize_error"]


def test_unknown_keeps_what_was_mapped() -> None:
    _, env = envelope_for("bug0", payload("bug0", "trigger_response.json"))
    assert env["subject"] == "exec_abc123def456"
    assert env["data"]["run"]["id"] == "exec_abc123def456"


def test_bad_value_is_dropped_and_explained() -> None:
    _, env = envelope_for("bug0", payload("bug0", "bad_pr.json"))
    # pr was the only git value, so the git section is absent rather than all-null.
    assert_fields(env, {"type": "run.started", "data.git": ABSENT, "data.run.id": "exec_b1"})
    assert env["normalize_error"] == "data.git.pr: 'not-a-number' is not an integer"


OVERRIDES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # The platform calls its state something else: fix the type and status rules in config.
    (
        "fume",
        "unknown_status.json",
        {"type": {"path": "status", "map": {"generating": "run.started"}}},
        {"type": "run.started", "subject": "run_9", "normalize_error": ABSENT},
    ),
    # Keep the preset's other keys while changing one.
    (
        "bug0",
        "execution_completed.json",
        {"data.run.url": {"value": "https://bug0.example/fixed"}, "data.git.pr": {"value": None}},
        {
            "type": "run.completed",
            "data.run.url": "https://bug0.example/fixed",
            "data.git.pr": None,
            "data.git.sha": "abc123def456789",
        },
    ),
    # A nested data block is the same as flat keys; a template reads headers too.
    (
        "nunu",
        "run_queued.json",
        {"data": {"run": {"name": "{{ headers['x-run-name'] }}"}}, "subject": {"value": "fixed"}},
        {"type": "run.queued", "subject": "fixed", "data.run.name": "from-header"},
    ),
    # A "failed" nunu run that means "the run broke" for this user.
    (
        "nunu",
        "run_failed_bare.json",
        {
            "type": {"path": "status", "map": {"failed": "run.failed"}},
            "data.run.outcome": {"value": "errored"},
        },
        {"type": "run.failed", "data.run.outcome": "errored"},
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "options", "expected"), OVERRIDES, ids=[f"{o[0]}/{o[1]}" for o in OVERRIDES]
)
def test_source_options_override_the_preset(
    kind: str, name: str, options: dict[str, Any], expected: dict[str, Any]
) -> None:
    _, env = envelope_for(kind, payload(kind, name), headers={"X-Run-Name": "from-header"}, options=options)
    assert_fields(env, expected)
