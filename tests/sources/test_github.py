"""GitHub: the supported events, typed by X-GitHub-Event, with data.git filled."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.sources import ADAPTERS
from tests.sources.helpers import ABSENT, assert_fields, envelope_for, payload

REPO = "octo-org/Hello-World"

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
