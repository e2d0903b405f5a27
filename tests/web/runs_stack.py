"""A test stack for the runs pages: a generic CI source whose payloads carry the run, its commit,
metrics and counts (signed as the platform would), a GitHub commit-status sink and a hook sink."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from tests.web.conftest import BASE_URL, LOOPBACK, Bench

CI_TOKEN = "ci_token_runs_ui_4b7e19"
GH_TOKEN = "ghp_runsuiToken0123456789abcdefABCDEF"
RUNS_SECRETS = (CI_TOKEN, GH_TOKEN)
SHA = "0123456789abcdef0123456789abcdef01234567"

RULES = """\
rules:
  - name: commit-status
    match: {type: run.completed}
    actions:
      - sink: gh
        state: "{{ 'success' if event.data.run.outcome == 'passed' else 'failure' }}"
        description: "{{ event.data.run.name }}: {{ event.data.run.outcome }}"
  - name: pending-status
    match: {type: run.started}
    actions:
      - sink: gh
        state: pending
  - name: notify
    match: {type: run.completed}
    actions:
      - sink: hook
        request: {method: POST, path: /runs, json: {run: "{{ event.data.run.key }}"}}
"""
CONFIG = """\
storage: {{url: 'sqlite:///data/runs.db'}}
rules: [rules.yaml]
sources:
  - id: ci
    kind: generic
    verify: {{scheme: token, header: X-Webhook-Token}}
    secrets: ['{ci_token}']
    normalize:
      type: {{path: event, map: {{started: run.started, done: run.completed}}}}
      subject: id
      time: at
      data.run.id: id
      data.run.name: name
      data.run.status: {{path: event, map: {{started: running, done: completed}}}}
      data.run.outcome: {{path: outcome, default: null}}
      data.run.url: url
      data.run.finished_at: finished_at
      data.run.duration_ms: duration_ms
      data.metrics.p95_latency_ms: p95
      data.counts.total: total
      data.counts.passed: passed
      data.counts.failed: failed
      data.git.repo: repo
      data.git.sha: sha
      data.git.branch: branch
      data.git.pr: pr
sinks:
  - id: gh
    kind: github_status
    token: '{gh_token}'
    api_url: {gh_url}
    allow_private: true
  - id: hook
    kind: http
    base_url: {hook_url}
    allow_private: true
delivery: {{poll_interval_seconds: 0.05}}
"""


def payload(run_id: str, event: str = "done", *, minute: int = 1, **fields: Any) -> dict[str, Any]:
    at = f"2026-02-06T12:{minute:02d}:00Z"
    body: dict[str, Any] = {"id": run_id, "event": event, "name": "Checkout", "at": at, "repo": "acme/shop",
                            "sha": SHA, "branch": "main"}  # fmt: skip
    if event == "done":
        body |= {"outcome": "passed", "finished_at": at, "duration_ms": 61_000}
    return body | fields


class RunsBench(Bench):
    def send(self, body: dict[str, Any]) -> str:
        r = self.client.post("/hooks/ci", content=json.dumps(body).encode(), headers={"X-Webhook-Token": CI_TOKEN})
        assert r.status_code == 202, r.text
        event_id: str = r.json()["event_id"]
        return event_id

    def runs(self, query: str = "") -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.get("/api/runs" + query).json()["runs"]
        return runs

    def sql(self, statement: str, *args: Any) -> None:
        """Change the real database the way another part of the daemon would (e.g. the trigger link)."""
        with contextlib.closing(sqlite3.connect(self.folder / "data" / "runs.db")) as conn, conn:
            conn.execute(statement, args)

    folder: Path


def write_runs_config(folder: Path, gh_url: str = "http://127.0.0.1:9", hook_url: str = "http://127.0.0.1:9") -> Path:
    """The config in ``folder``; sink URLs default to the discard port (nothing is sent there)."""
    (folder / "rules.yaml").write_text(RULES)
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(ci_token=CI_TOKEN, gh_token=GH_TOKEN, gh_url=gh_url, hook_url=hook_url))
    return path


def send(url: str, body: dict[str, Any]) -> None:
    """Post one payload to a running daemon as the CI platform does."""
    r = httpx.post(f"{url}/hooks/ci", content=json.dumps(body).encode(), headers={"X-Webhook-Token": CI_TOKEN})
    assert r.status_code == 202, r.text


@contextlib.contextmanager
def open_runs_bench(folder: Path) -> Iterator[RunsBench]:
    config = load_config(write_runs_config(folder))
    app = create_app(config, deliver=False)
    with TestClient(app, base_url=BASE_URL, client=LOOPBACK) as client:
        bench = RunsBench(client, app.state.hookyard)
        bench.folder = folder
        yield bench
