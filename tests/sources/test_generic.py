"""The generic kind: the mapping syntax end to end (paths, templates, literals, maps)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sources.helpers import ABSENT, assert_fields, envelope_for, payload

CI_MAPPING: dict[str, Any] = {
    "unwrap": "run",
    "type": {"path": "event", "map": {"run.finished": "run.completed", "run.begun": "run.started"}},
    "subject": "id",
    "time": "at",
    "platform_event": "event",
    "data.run.id": "id",
    "data.run.name": "name",
    "data.run.status": "state",
    "data.run.outcome": {"path": "state", "map": {"failed": "failed", "passed": "passed"}, "default": None},
    "data.run.url": "url",
    "data.counts.total": "stats.total",
    "data.counts.failed": "stats.failed",
    "data.git.sha": "commit.sha",
    "data.git.repo": "{{ payload.commit.repo }}",
    "data.metrics.queue_ms": {"value": 12.5},
}

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "ci_finished.json",
        CI_MAPPING,
        {
            "type": "run.completed",
            "platform_event": "run.finished",
            "subject": "1234",
            "time": "2026-01-02T03:04:05Z",
            "data.run.status": "FAILED",
            "data.run.outcome": "failed",  # map keys match ignoring case
            "data.run.url": "https://ci.example.com/runs/1234",
            "data.counts": {"total": 20, "passed": None, "failed": 3, "skipped": None, "known_failure": None},
            "data.git": {"repo": "octo-org/app", "sha": "abc", "branch": None, "pr": None},
            "data.metrics.queue_ms": 12.5,
            "data.metrics.p95_latency_ms": None,
            "normalize_error": ABSENT,
        },
    ),
    (
        "ci_started.json",
        CI_MAPPING,
        {
            "type": "run.started",
            "time": "2026-01-02T02:04:05Z",
            "data.run.outcome": None,
            "data.counts": ABSENT,
            # The template fails (no commit), so git.repo is unknown and the reason is given.
            "data.git": ABSENT,
            "normalize_error": "data.git.repo: template failed: 'dict object' has no attribute 'commit'",
        },
    ),
    (
        "ci_weird_event.json",
        CI_MAPPING,
        {
            "type": "generic.unknown",
            "subject": "1236",
            "normalize_error": "type: 'run.teleported' is not in the map (run.finished, run.begun); "
            "data.git.repo: template failed: 'dict object' has no attribute 'commit'",
        },
    ),
    (
        "ci_weird_event.json",
        {"type": {"path": "event", "map": {"x": "run.completed"}, "default": "run.reported"}},
        {"type": "run.reported", "normalize_error": ABSENT},
    ),
    (
        "items.json",
        {
            "type": "{{ payload.kind }}.received",
            "subject": "items.1.id",
            "data.test.status": "items.0.status",
        },
        {"type": "batch.received", "subject": "second", "data.test.status": "ok", "data.test.name": None},
    ),
    (
        "items.json",
        {"type": "items.-1.id", "subject": ["missing.path", "items.0.id"]},
        {"type": "second", "subject": "first"},
    ),
    (
        "items.json",
        {"type": {"value": "run.completed"}, "data.run.status": "nowhere"},
        {"type": "run.completed", "data.run": ABSENT, "normalize_error": ABSENT},
    ),
    (
        "items.json",
        {"type": "kind", "time": "kind"},
        {
            "type": "batch",
            "time": "2026-01-02T03:04:05.000Z",
            "normalize_error": "time: 'batch' is not an ISO 8601 / RFC 3339 time",
        },
    ),
    (
        "items.json",
        {"type": "{{ payload.kind | upper }}"},
        {
            "type": "generic.unknown",
            "normalize_error": "type: 'BATCH' is not a valid event type (lower-case words joined by dots)",
        },
    ),
    ("array.json", {"type": {"value": "ping"}, "subject": "0.id"}, {"type": "ping", "subject": "1"}),
    (
        "items.json",
        {"type": "{{ payload.__class__.__mro__ }}"},
        {"type": "generic.unknown"},  # the sandbox refuses the attribute: no escape, no crash
    ),
]


@pytest.mark.parametrize(
    ("name", "options", "expected"), CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)]
)
def test_mapping(name: str, options: dict[str, Any], expected: dict[str, Any]) -> None:
    _, env = envelope_for("generic", payload("generic", name), options=options)
    assert_fields(env, {"platform": "generic", **expected})


@pytest.mark.parametrize(
    ("name", "options", "reason"),
    [
        ("ci_finished.json", None, "the normalize mapping has no type rule"),
        ("not_json.json", {"type": "event"}, "body is not valid JSON"),
        ("empty.json", {"type": "event"}, "body is empty"),
        ("array.json", {"type": "event"}, "type: no value at event"),
    ],
)
def test_unusable_bodies_become_unknown(name: str, options: dict[str, Any] | None, reason: str) -> None:
    _, env = envelope_for("generic", payload("generic", name), options=options)
    assert env["type"] == "generic.unknown"
    assert reason in env["normalize_error"]


def test_a_path_that_resolves_to_null_is_missing() -> None:
    """One walker (jsonutil.dig) for mappings and rules: null means the platform did not say, so the
    next alternative path (or the default) applies."""
    body = b'{"kind": null, "event": "run.completed", "items": [{"id": "a"}, {"id": null}]}'
    options = {"type": ["kind", "event"], "subject": {"path": "items.-1.id", "default": "none-given"}}
    _, env = envelope_for("generic", body, options=options)
    assert (env["type"], env["subject"]) == ("run.completed", "none-given")


def test_templates_cannot_read_credential_headers() -> None:
    headers = {
        "Authorization": "Bearer s3cr3t",
        "X-Api-Key": "k3y",
        "X-Hub-Signature-256": "sha256=abc",
        "X-Event-Type": "run.completed",
    }
    options = {
        "type": "{{ headers['x-event-type'] }}",
        "data.run.name": "{{ headers['authorization'] }}",
        "data.run.url": "{{ headers['x-api-key'] }}",
        "data.run.status": "{{ headers | join(',') }}",
    }
    _, env = envelope_for("generic", payload("generic", "items.json"), headers=headers, options=options)
    assert env["type"] == "run.completed"
    assert env["data"]["run"]["status"] == "x-event-type"
    assert env["data"]["run"]["name"] is None and env["data"]["run"]["url"] is None
    text = repr(env)
    for secret in ("s3cr3t", "k3y", "sha256=abc"):
        assert secret not in text
