"""GitHub: the supported events, typed by X-GitHub-Event, with data.git filled."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.sources import ADAPTERS
from tests.sources.helpers import ABSENT, assert_fields, envelope_for, payload

REPO = "octo-org/Hello-World"
SHA = "abc123def4567890abc123def4567890abc12345"

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "push",
        "push.json",
        {
            "type": "git.push",
            "subject": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "time": "2026-01-02T08:04:05Z",
            "data.git": {
                "repo": REPO,
                "sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                "branch": "main",
                "pr": None,
            },
            "data.run": ABSENT,
        },
    ),
    (
        "push",
        "push_tag.json",
        {"type": "git.push", "data.git.branch": None, "time": "2026-01-02T03:04:05.000Z"},
    ),
    (
        "pull_request",
        "pull_request_opened.json",
        {
            "type": "pr.opened",
            "subject": "42",
            "platform_event": "pull_request",
            "data.git": {
                "repo": REPO,
                "sha": "abc123def4567890abc123def4567890abc12345",
                "branch": "feature/checkout",
                "pr": 42,
            },
        },
    ),
    ("pull_request", "pull_request_synchronize.json", {"type": "pr.synchronize", "data.git.pr": 42}),
    (
        "deployment_status",
        "deployment_status_success.json",
        {
            "type": "deployment.success",
            "subject": "987",
            "data.deployment": {
                "id": "987",
                "environment": "preview",
                "state": "success",
                "url": "https://preview-pr-42.example.com",
            },
            "data.git.sha": "abc123def4567890abc123def4567890abc12345",
            "data.git.branch": "feature/checkout",
        },
    ),
    (
        "deployment_status",
        "deployment_status_failure.json",
        {
            "type": "deployment.failure",
            "data.deployment.environment": "production",
            "data.deployment.url": "https://ci.example.com/deploy/56",
            "time": "2026-01-02T04:00:00Z",
        },
    ),
    (
        "check_suite",
        "check_suite_completed.json",
        {
            "type": "check_suite.completed",
            "subject": "118578147",
            "data.run.outcome": "failed",
            "data.run.name": "Hookyard CI",
            "data.git.pr": 42,
            "data.git.branch": "feature/checkout",
        },
    ),
    (
        "workflow_run",
        "workflow_run_completed.json",
        {
            "type": "workflow_run.completed",
            "subject": "30433642",
            "data.run.outcome": "passed",
            "data.run.url": "https://github.com/octo-org/Hello-World/actions/runs/30433642",
            "data.run.finished_at": "2026-01-02T03:05:00Z",
            "data.git.pr": None,
        },
    ),
    (
        "workflow_run",
        "workflow_run_requested.json",
        {"type": "workflow_run.requested", "data.run.outcome": None, "data.run.finished_at": None},
    ),
    (
        "status",
        "status_ci_success.json",
        {
            "type": "status.success",
            "subject": "6789012000",
            "time": "2026-01-02T03:05:00Z",
            # A commit status is no run of its own: no id, so run tracking leaves it alone.
            "data.run": {
                "id": None,
                "name": "ci/build",
                "project": None,
                "status": "success",
                "outcome": "passed",
                "url": "https://ci.example.com/builds/77",
                "ci_url": None,
                "started_at": None,
                "finished_at": None,
                "duration_ms": None,
            },
            "data.git": {"repo": REPO, "sha": SHA, "branch": None, "pr": None},
        },
    ),
    (
        "check_run",
        "check_run_ci_created.json",
        {
            "type": "check_run.created",
            "subject": "4242420000",
            "data.run.name": "lint",
            "data.run.status": "in_progress",
            "data.run.outcome": None,
            "data.run.started_at": "2026-01-02T03:06:00Z",
            "data.git": {"repo": REPO, "sha": SHA, "branch": "feature/checkout", "pr": None},
        },
    ),
    ("ping", "ping.json", {"type": "ping", "subject": "12345678", "data.git.repo": REPO}),
]


@pytest.mark.parametrize(("event", "name", "expected"), CASES, ids=[c[1] for c in CASES])
def test_events(event: str, name: str, expected: dict[str, Any]) -> None:
    _, env = envelope_for("github", payload("github", name), headers={"X-GitHub-Event": event})
    assert_fields(env, {"platform": "github", "platform_event": event, "normalize_error": ABSENT, **expected})


GARBAGE = [
    ("issues", "issues.json", "unsupported GitHub event 'issues'"),
    (None, "push.json", "no X-GitHub-Event header"),
    ("pull_request", "pull_request_no_action.json", "pull_request payload has no action/state"),
    ("push", "form_encoded.json", "body is not valid JSON"),
    ("push", "empty.json", "body is empty"),
    ("push", "array.json", "expected a JSON object, got list"),
]


@pytest.mark.parametrize(("event", "name", "reason"), GARBAGE, ids=[g[1] + str(g[0]) for g in GARBAGE])
def test_unusable_bodies_become_unknown(event: str | None, name: str, reason: str) -> None:
    headers = {"X-GitHub-Event": event} if event else {}
    _, env = envelope_for("github", payload("github", name), headers=headers)
    assert env["type"] == "github.unknown"
    assert reason in env["normalize_error"]
    assert env["platform_event"] == event


def test_spec() -> None:
    spec = ADAPTERS["github"]
    assert spec.default_verify == {"scheme": "github"}
    assert spec.delivery_id_header == "X-GitHub-Delivery"


BUG0_RUN = f"{REPO}@{SHA}"
# (event, payload, normalize options, what it becomes): Bug0's reports through its GitHub integration.
BUG0: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
    (
        "status",
        "status_bug0_pending.json",
        None,
        {
            "type": "run.started",
            "platform": "bug0",
            "platform_event": "status",
            "subject": BUG0_RUN,
            "data.run.id": BUG0_RUN,
            "data.run.name": "Bug0 Tests",
            "data.run.status": "running",
            "data.run.outcome": None,
            "data.run.started_at": "2026-01-02T03:10:00Z",
            "data.run.url": "https://app.bug0.com/projects/507f1f77bcf86cd799439011/executions/exec_abc123def456",
            "data.git": {"repo": REPO, "sha": SHA, "branch": None, "pr": None},
        },
    ),
    (
        "status",
        "status_bug0_failure.json",
        None,
        {
            "type": "run.completed",
            "platform": "bug0",
            "data.run.status": "completed",
            "data.run.outcome": "failed",
            "data.run.finished_at": "2026-01-02T03:18:00Z",
        },
    ),
    (
        "check_run",
        "check_run_bug0_completed.json",  # named by its app, not by the check's name
        None,
        {
            "type": "run.completed",
            "platform": "bug0",
            "platform_event": "check_run",
            "data.run.id": BUG0_RUN,
            "data.run.name": "E2E suite",
            "data.run.status": "completed",
            "data.run.outcome": "passed",
            "data.run.finished_at": "2026-01-02T03:18:00Z",
            "data.git.pr": 42,
        },
    ),
    # The context to look for is the source's own; null turns the link off.
    ("status", "status_ci_success.json", {"bug0_context": "CI/"}, {"type": "run.completed", "platform": "bug0"}),
    (
        "status",
        "status_bug0_pending.json",
        {"bug0_context": "qa-bot"},
        {"type": "status.pending", "platform": "github"},
    ),
    ("status", "status_bug0_pending.json", {"bug0_context": None}, {"type": "status.pending", "platform": "github"}),
    (
        "check_run",
        "check_run_bug0_completed.json",
        {"bug0_context": None, "data.run.project": {"value": "e2e"}},
        {"type": "check_run.completed", "platform": "github", "data.run.project": "e2e"},
    ),
]


@pytest.mark.parametrize(("event", "name", "options", "expected"), BUG0, ids=[f"{b[1]}-{b[2]}" for b in BUG0])
def test_bug0_reports_become_bug0_run_events(
    event: str, name: str, options: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    _, env = envelope_for("github", payload("github", name), headers={"X-GitHub-Event": event}, options=options)
    assert_fields(env, {"normalize_error": ABSENT, **expected})


def test_bug0_context_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="bug0_context"):
        ADAPTERS["github"].options.model_validate({"bug0_context": ""})
