"""The trigger → run → completion → commit status chain, through the app and its dispatcher
in-process, against real local fake APIs of Fusillade, Bug0, Fume and GitHub, on SQLite.

A GitHub deployment starts one run on each platform through its preset (Fusillade through the
shipped rules/60-deploy-load-test.yaml). Each answer names the run; Hookyard records it at once
(queued, with the deployment's commit). The platforms' completion webhooks carry no commit:
they find the run, inherit its commit (``inferred_from: trigger``), and the commit status lands
on the deployed commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from receiver.store.runs import RunQuery
from tests.delivery.conftest import SHIPPED_RULES, WEBHOOK_SECRET
from tests.delivery.harness import run as harness
from tests.helpers import ROOT, assert_no_secret, fusillade_body, stripe_header, wait_for
from tests.servers import Received, RecordingServer, Reply

GITHUB_SECRET = "gh_hook_secret_track_51c2"
GITHUB_TOKEN = "ghp_track_token_0a9e3f"
API_KEYS = {"fusillade": "fus_track_key_77b1", "bug0": "bug0_track_key_c3d2", "fume": "fume_track_key_e5f4"}
WEBHOOK_TOKENS = {"bug0": "bug0_hook_token_1a2b", "fume": "fume_hook_token_3c4d"}
SECRETS = (WEBHOOK_SECRET, GITHUB_SECRET, GITHUB_TOKEN, *API_KEYS.values(), *WEBHOOK_TOKENS.values())
SHA = "abc123def4567890abc123def4567890abc12345"  # the deployed commit
REPO = "octo-org/Hello-World"
BRANCH = "feature/checkout"  # the deployed ref
# What each platform's start-run answer says (as documented) and its path.
ANSWERS = {
    "fusillade": ("/api/v1/templates/tpl_api_smoke/run", {"test_id": "fus-run-1", "status": "provisioning"}),
    "bug0": ("/api/run-tests", {"success": True, "message": "Tests triggered successfully", "executionId": "exec-1"}),
    "fume": ("/test/trigger", {"runId": "fume-run-1", "status": "queued"}),
}
AUTH = {"fusillade": ("authorization", "Bearer {}"), "bug0": ("x-api-key", "{}"), "fume": ("authorization", "{}")}
# Bug0 and Fume start their runs from this file; Fusillade from the shipped rule file.
RULES = """\
rules:
  - name: deploy-start-ai-qa
    match: {platform: github, type: deployment.success}
    actions:
      - sink: bug0-api
        run_tests: {projectId: proj-1, url: "{{ event.data.deployment.url }}"}
      - sink: fume-api
        trigger: {projectId: proj-2, branch: main}
  - name: ai-qa-finished
    match: {platform: [bug0, fume], type: [run.completed, run.failed], data.git.inferred_from: trigger}
    actions:
      - sink: github
        state: "{{ 'success' if event.data.run.outcome == 'passed' else 'failure' }}"
        context: "qa/{{ event.platform }}"
"""


def platform_api(kind: str) -> RecordingServer:
    path, answer = ANSWERS[kind]
    header, shape = AUTH[kind]

    def respond(got: Received) -> Reply:
        if got.headers.get(header) != shape.format(API_KEYS[kind]):
            return Reply(401, {"error": "unauthorized"})
        return Reply(200, answer) if (got.method, got.path) == ("POST", path) else Reply(404, {"error": "not found"})

    return RecordingServer(respond)


def github(got: Received) -> Reply:
    if got.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}" or "/statuses/" not in got.path:
        return Reply(401, {"message": "Bad credentials"})
    return Reply(201, {"id": 1, "state": got.json["state"]})


@pytest.fixture
def apis() -> Iterator[dict[str, RecordingServer]]:
    servers = {kind: platform_api(kind) for kind in ANSWERS} | {"github": RecordingServer(github)}
    for server in servers.values():
        server.__enter__()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)


def config_text(apis: dict[str, RecordingServer], rule_file: Path, extra_sinks: str = "") -> str:
    sinks = "".join(
        f"  - {{id: {kind}-api, kind: {kind}, api_key: '{API_KEYS[kind]}', base_url: '{apis[kind].url}', "
        "allow_private: true}\n"
        for kind in ANSWERS
    )
    return (
        "storage: {url: 'sqlite:///data/h.db'}\n"
        f"rules: ['{SHIPPED_RULES / '60-deploy-load-test.yaml'}', '{rule_file}']\n"
        "delivery: {poll_interval_seconds: 0.05}\n"
        "sources:\n"
        f"  - {{id: fusillade, kind: fusillade, secrets: ['{WEBHOOK_SECRET}']}}\n"
        f"  - {{id: github, kind: github, secrets: ['{GITHUB_SECRET}']}}\n"
        f"  - {{id: bug0, kind: bug0, verify: {{scheme: token, header: X-Webhook-Token}}, "
        f"secrets: ['{WEBHOOK_TOKENS['bug0']}']}}\n"
        f"  - {{id: fume, kind: fume, verify: {{scheme: token, header: X-Webhook-Token}}, "
        f"secrets: ['{WEBHOOK_TOKENS['fume']}']}}\n"
        "sinks:\n" + sinks + extra_sinks
        + f"  - {{id: github, kind: github_status, token: '{GITHUB_TOKEN}', api_url: '{apis['github'].url}', "
        "allow_private: true}\n"
    )  # fmt: skip


def deployment() -> bytes:
    payload = json.loads((ROOT / "tests/testdata/payloads/github/deployment_status_success.json").read_text())
    payload["deployment"]["environment"] = payload["deployment_status"]["environment"] = "production"
    deployed = (payload["deployment"]["sha"], payload["deployment"]["ref"], payload["repository"]["full_name"])
    assert deployed == (SHA, BRANCH, REPO)
    return json.dumps(payload).encode()


def signed(source: str, body: bytes) -> dict[str, str]:
    if source == "github":
        digest = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "deployment_status"}
    if source == "fusillade":
        return {"X-Fusillade-Signature": stripe_header(WEBHOOK_SECRET, body, int(time.time()))}
    return {"X-Webhook-Token": WEBHOOK_TOKENS[source]}


# The completion webhooks, as each adapter documents its assumed shape: none carries a commit.
COMPLETIONS = {
    "fusillade": fusillade_body("test.completed", "fus-run-1", "Deploy Smoke"),
    "bug0": json.dumps({"executionId": "exec-1", "projectId": "proj-1", "status": "completed", "result": "failed",
                        "finishedAt": "2026-03-02T08:00:00Z"}).encode(),
    "fume": json.dumps({"runId": "fume-run-1", "status": "completed", "result": "passed",
                        "finished_at": "2026-03-03T10:00:00Z"}).encode(),
}  # fmt: skip


def settled(client: TestClient, n: int) -> list[dict[str, Any]] | None:
    rows = client.get("/api/deliveries?limit=100").json()["deliveries"]
    done = len(rows) >= n and all(d["state"] in ("succeeded", "dead") for d in rows)
    return rows if done else None


def test_trigger_run_completion_commit_status(tmp_path: Path, apis: dict[str, RecordingServer]) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "config.yaml").write_text(config_text(apis, tmp_path / "rules.yaml"))
    config = load_config(tmp_path / "config.yaml")
    app = create_app(config)
    with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as client:
        body = deployment()
        assert client.post("/hooks/github", content=body, headers=signed("github", body)).status_code == 202
        # run_template, run_tests, trigger and the pending status
        wait_for(lambda: settled(client, 4), 30)
        runs = {r["platform"]: r for r in client.get("/api/runs").json()["runs"]}
        started = {p: (r["source"], r["run_id"], r["status"], r["git"]["sha"], r["git"]["repo"])
                   for p, r in runs.items()}  # fmt: skip
        assert started == {
            "fusillade": ("fusillade", "fus-run-1", "queued", SHA, REPO),
            "bug0": ("bug0", "exec-1", "queued", SHA, REPO),
            "fume": ("fume", "fume-run-1", "queued", SHA, REPO),
        }  # fmt: skip
        assert all(r["trigger_delivery_id"] and r["trigger_event_id"] for r in runs.values())

        for source, completion in COMPLETIONS.items():
            answer = client.post(f"/hooks/{source}", content=completion, headers=signed(source, completion))
            assert answer.status_code == 202, answer.text
            stored = client.get(f"/api/events/{answer.json()['event_id']}").json()["event"]["envelope"]
            assert stored["data"]["git"] == {"repo": REPO, "sha": SHA, "branch": BRANCH, "pr": None,
                                             "inferred_from": "trigger"}, source  # fmt: skip
            assert stored["data"]["run"]["key"] == runs[source]["key"]
        deliveries = wait_for(lambda: settled(client, 7), 30)
        after = {r["platform"]: r for r in client.get("/api/runs").json()["runs"]}
    assert [d for d in deliveries if d["state"] != "succeeded"] == []
    assert {p: (r["key"], r["final"], r["git"]["sha"]) for p, r in after.items()} == {
        p: (runs[p]["key"], True, SHA) for p in ANSWERS
    }
    statuses = sorted((g.path, g.json["state"], g.json["context"]) for g in apis["github"].received)
    assert statuses == sorted([
        (f"/repos/{REPO}/statuses/{SHA}", "pending", "perf/deploy-load-test"),
        (f"/repos/{REPO}/statuses/{SHA}", "success", "perf/deploy-load-test"),
        (f"/repos/{REPO}/statuses/{SHA}", "failure", "qa/bug0"),
        (f"/repos/{REPO}/statuses/{SHA}", "success", "qa/fume"),
    ])  # fmt: skip
    # The start-run calls went out as the presets build them, with the deployment's commit where the API takes one.
    (run_tests,) = apis["bug0"].received
    assert run_tests.json["gitCommitSha"] == SHA
    assert_no_secret([json.dumps(deliveries), json.dumps(after)], SECRETS)


def test_a_failure_reading_the_run_never_undoes_the_success(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The call was made: the delivery succeeds (and is not sent again) even when reading its answer breaks."""
    with RecordingServer(default=Reply(201, {"runId": "r-9"})) as api:
        sinks = {"fume-api": {"kind": "fume", "api_key": API_KEYS["fume"], "base_url": api.url, "allow_private": True}}

        async def body(h: Any) -> None:
            def broken(*args: Any) -> None:
                raise RuntimeError("a bug")

            h.dispatcher.sinks["fume-api"].started_run = broken
            delivery_id = await h.add("fume-api", {"trigger": {"projectId": "p"}})
            assert await h.dispatcher.run_once() == 1
            assert (await h.delivery(delivery_id)).state == "succeeded"
            assert await h.store.list_runs(RunQuery()) == []
            h.clock.advance(3600)
            assert await h.dispatcher.run_once() == 0  # nothing to send again
            assert len(api.received) == 1

        with caplog.at_level(logging.ERROR, "hookyard.delivery"):
            harness(tmp_path, sinks, body)
    assert any("the run is not tracked" in r.getMessage() for r in caplog.records)
