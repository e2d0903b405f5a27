"""Run events for the run tests: envelopes as adapters produce them, and a store-side driver."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from receiver.events import Normalized, build_envelope
from receiver.rules import Plan
from receiver.runs.track import Track, track
from receiver.store.base import NewEvent

GIT = {"repo": "acme/shop", "sha": "abc123", "branch": "main", "pr": None}
NO_GIT = {"repo": None, "sha": None, "branch": None, "pr": None}


def run_section(run_id: str, **values: Any) -> dict[str, Any]:
    keys = ("name", "project", "status", "outcome", "url", "ci_url", "started_at", "finished_at", "duration_ms")
    section: dict[str, Any] = {"id": run_id, **dict.fromkeys(keys)}
    section["name"] = "Checkout"
    section.update(values)
    return section


def envelope(
    event_id: str,
    type: str,
    *,
    run_id: str = "r-1",
    time: str = "2026-02-06T12:00:00Z",
    git: Mapping[str, Any] | None = None,
    source: str = "fus",
    metrics: Mapping[str, Any] | None = None,
    **run: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {"run": run_section(run_id, **run)}
    if git is not None:
        data["git"] = dict(git)
    if metrics is not None:
        data["metrics"] = dict(metrics)
    n = Normalized(type=type, platform="fusillade", subject=run_id, time=time, data=data)
    return build_envelope(n, event_id=event_id, source_id=source, received_at=1_770_000_000.0)


def no_rules(env: Mapping[str, Any]) -> Plan:
    return Plan("v-test", [], [])


def new_event(env: dict[str, Any], *, keys: tuple[str, ...] = ()) -> NewEvent:
    body = repr(env["id"]).encode()
    return NewEvent(
        id=env["id"], source_id=env["source"], kind="fusillade", type=env["type"], subject=env["subject"],
        received_at=1_770_000_000.0, body=body, body_sha256=hashlib.sha256(body).hexdigest(), headers={},
        envelope=env, correlation_id=env["id"], dedupe_keys=keys,
    )  # fmt: skip


def step(env: Mapping[str, Any], planner: Any = no_rules, now: float = 1_770_000_000.0) -> Track:
    found = track(env, now, planner)
    assert found is not None
    return found


# Events of one run as a platform sends them; the sequences below shuffle and repeat them.
QUEUED = ("e1", "run.queued", {"time": "2026-02-06T12:00:00Z", "status": "queued", "git": GIT})
STARTED = (
    "e2",
    "run.started",
    {"time": "2026-02-06T12:01:00Z", "status": "running", "started_at": "2026-02-06T12:01:00Z"},
)
BREACH = (
    "e3",
    "threshold.breached",
    {"time": "2026-02-06T12:02:00Z", "status": "running", "metrics": {"p95_latency_ms": 900}},
)
DONE = ("e4", "run.completed", {"time": "2026-02-06T12:05:00Z", "status": "completed", "outcome": "failed",
                               "finished_at": "2026-02-06T12:05:00Z", "metrics": {"p95_latency_ms": 700}})  # fmt: skip
