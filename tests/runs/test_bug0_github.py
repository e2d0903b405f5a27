"""Bug0 through GitHub, through the app: a deployment starts a Bug0 run (its fake API answers the
executionId), then Bug0's integration reports on the commit with signed GitHub ``status`` webhooks,
which update that run and are routed as Bug0 run events (in-process app and dispatcher, SQLite)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from tests.helpers import ROOT, assert_no_secret, wait_for
from tests.servers import Received, RecordingServer, Reply

GITHUB_SECRET = "gh_hook_secret_bug0_7c1d"
GITHUB_TOKEN = "ghp_bug0_token_4e5f6a"
BUG0_KEY = "bug0_sk_link_key_8b9c"
SHA = "abc123def4567890abc123def4567890abc12345"
REPO = "octo-org/Hello-World"
PAYLOADS = ROOT / "tests/testdata/payloads/github"
RULES = """\
rules:
  - name: deploy-starts-bug0
    match: {platform: github, type: deployment.success}
    actions:
      - sink: bug0-api
        run_tests: {projectId: proj-1, url: "{{ event.data.deployment.url }}"}
  - name: bug0-verdict
    match: {platform: bug0, type: run.completed}
    actions:
      - sink: github
        state: "{{ 'success' if event.data.run.outcome == 'passed' else 'failure' }}"
        context: "hookyard/bug0"
        description: "{{ event.data.run.key }}"
"""


def bug0_api(got: Received) -> Reply:
    if got.headers.get("x-api-key") != BUG0_KEY or (got.method, got.path) != ("POST", "/api/run-tests"):
        return Reply(401, {"success": False, "error": "Invalid API key"})
    return Reply(200, {"success": True, "message": "Tests triggered successfully", "executionId": "exec-9"})


def github_api(got: Received) -> Reply:
    if got.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
        return Reply(401, {"message": "Bad credentials"})
    return Reply(201, {"id": 1, "state": got.json["state"]})


def signed(event: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": event, "X-GitHub-Delivery": digest[:16]}


def settled(client: TestClient, n: int) -> list[dict[str, Any]] | None:
    rows = client.get("/api/deliveries?limit=100").json()["deliveries"]
    return rows if len(rows) >= n and all(d["state"] in ("succeeded", "dead") for d in rows) else None


def test_bug0_statuses_update_the_run_hookyard_started(tmp_path: Path) -> None:
    with RecordingServer(bug0_api) as bug0, RecordingServer(github_api) as github:
        (tmp_path / "rules.yaml").write_text(RULES)
        (tmp_path / "config.yaml").write_text(
            "storage: {url: 'sqlite:///data/h.db'}\n"
            f"rules: ['{tmp_path / 'rules.yaml'}']\n"
            "delivery: {poll_interval_seconds: 0.05}\n"
            "sources:\n"
            # The context Bug0's statuses carry on this repository (any status containing it is Bug0's).
            f"  - {{id: github, kind: github, secrets: ['{GITHUB_SECRET}'],\n"
            "      normalize: {bug0_context: 'BUG0 tests'}}\n"
            "sinks:\n"
            f"  - {{id: bug0-api, kind: bug0, api_key: '{BUG0_KEY}', base_url: '{bug0.url}', allow_private: true}}\n"
            f"  - {{id: github, kind: github_status, token: '{GITHUB_TOKEN}', api_url: '{github.url}', "
            "allow_private: true}\n"
        )  # fmt: skip
        app = create_app(load_config(tmp_path / "config.yaml"))
        with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as client:
            deployed = (PAYLOADS / "deployment_status_success.json").read_bytes()
            answer = client.post("/hooks/github", content=deployed, headers=signed("deployment_status", deployed))
            assert answer.status_code == 202, answer.text
            wait_for(lambda: settled(client, 1), 30)
            (started,) = client.get("/api/runs").json()["runs"]
            assert (started["platform"], started["run_id"], started["status"]) == ("bug0", "exec-9", "queued")

            seen = []
            for name in ("status_bug0_pending.json", "status_ci_success.json", "status_bug0_failure.json"):
                body = (PAYLOADS / name).read_bytes()
                answer = client.post("/hooks/github", content=body, headers=signed("status", body))
                assert answer.status_code == 202, answer.text
                event = client.get(f"/api/events/{answer.json()['event_id']}").json()["event"]["envelope"]
                run = event["data"]["run"]
                seen.append((event["platform"], event["type"], run.get("key"), run["status"], run["outcome"]))
                (row,) = client.get("/api/runs").json()["runs"]
                assert row["key"] == started["key"]
            deliveries = wait_for(lambda: settled(client, 2), 30)
        assert seen == [
            ("bug0", "run.started", started["key"], "running", None),
            ("github", "status.success", None, "success", "passed"),  # CI's own status: no Bug0 run
            ("bug0", "run.completed", started["key"], "completed", "failed"),
        ]
        assert (row["status"], row["outcome"], row["final"], row["git"]["sha"]) == ("completed", "failed", True, SHA)
        # The verdict is routed like any run's: one commit status on the deployed commit.
        ((path, status),) = [(g.path, g.json) for g in github.received]
        assert path == f"/repos/{REPO}/statuses/{SHA}"
        assert (status["state"], status["context"], status["description"]) == ("failure", "hookyard/bug0", row["key"])
        assert bug0.received[0].json["gitCommitSha"] == SHA
        assert_no_secret([json.dumps(deliveries), json.dumps(row)], [GITHUB_SECRET, GITHUB_TOKEN, BUG0_KEY])
