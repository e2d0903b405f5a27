"""Trigger → run → poll → completion, through the app in-process (its dispatcher and poll engine
running on the real clock), the shipped rules/60-deploy-load-test.yaml and the fusillade preset's
``run_template``, against a fake Fusillade that sends no webhooks and a fake GitHub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.cli.main import main
from receiver.config import load_config
from tests.delivery.conftest import SHIPPED_RULES, WEBHOOK_SECRET
from tests.delivery.test_track_run import GITHUB_SECRET, GITHUB_TOKEN, REPO, SHA, deployment, github, signed
from tests.helpers import assert_no_secret, fusillade_body, wait_for
from tests.polling.fake_fusillade import API_KEY, FakeFusillade
from tests.servers import RecordingServer


@pytest.fixture
def apis() -> Iterator[tuple[FakeFusillade, RecordingServer]]:
    with FakeFusillade() as fusillade, RecordingServer(github) as gh:
        yield fusillade, gh


def config_text(fusillade: FakeFusillade, gh: RecordingServer) -> str:
    return (
        "storage: {url: 'sqlite:///data/h.db'}\n"
        f"rules: ['{SHIPPED_RULES / '60-deploy-load-test.yaml'}']\n"
        "delivery: {poll_interval_seconds: 0.05}\n"
        "polling: {interval_seconds: 1}\n"
        "sources:\n"
        f"  - {{id: fusillade, kind: fusillade, secrets: ['{WEBHOOK_SECRET}']}}\n"
        f"  - {{id: github, kind: github, secrets: ['{GITHUB_SECRET}']}}\n"
        "sinks:\n"
        f"  - {{id: fusillade-api, kind: fusillade, api_key: '{API_KEY}', base_url: '{fusillade.url}', "
        "allow_private: true}\n"
        f"  - {{id: github, kind: github_status, token: '{GITHUB_TOKEN}', api_url: '{gh.url}', allow_private: true}}\n"
    )


def run_of(client: TestClient) -> dict[str, Any] | None:
    runs = client.get("/api/runs").json()["runs"]
    return runs[0] if runs else None


def test_a_triggered_run_is_polled_to_its_end_and_its_commit_gets_the_result(
    tmp_path: Path, apis: tuple[FakeFusillade, RecordingServer]
) -> None:
    fusillade, gh = apis
    (tmp_path / "config.yaml").write_text(config_text(fusillade, gh))
    app = create_app(load_config(tmp_path / "config.yaml"))
    with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as client:
        body = deployment()
        assert client.post("/hooks/github", content=body, headers=signed("github", body)).status_code == 202
        # run_template answered t-1: the run is recorded with the deployment's commit, and polled at once.
        run = wait_for(lambda: (r := run_of(client)) and r["status"] == "provisioning" and r, 30)
        assert (run["run_id"], run["git"]["sha"]) == ("t-1", SHA)
        fusillade.set("t-1", "completed", p95_latency_ms=41.0, threshold_results=[{"name": "p95", "passed": True}])
        done = wait_for(lambda: (r := run_of(client)) and r["final"] and r, 30)
        wait_for(lambda: len(gh.received) == 2, 30)
        # Fusillade's own webhook of the transition the poll already reported: one event, not two.
        late = fusillade_body("test.completed", "t-1", "API smoke", p95_latency_ms=41.0)
        answer = client.post("/hooks/fusillade", content=late, headers=signed("fusillade", late))
        assert (answer.status_code, answer.json()["duplicate"]) == (200, True)
        detail = client.get(f"/api/runs/{done['key']}").json()
        envelopes = [client.get(f"/api/events/{e['id']}").json()["event"]["envelope"] for e in detail["events"]]
    assert (done["key"], done["outcome"], done["git"]["sha"]) == (run["key"], "passed", SHA)
    events = [(e["type"], e["platform_event"], e["data"]["git"]["inferred_from"]) for e in envelopes]
    assert events == [("run.queued", "poll", "trigger"), ("run.completed", "poll", "trigger")]
    statuses = [(g.path, g.json["state"]) for g in gh.received]
    assert statuses == [(f"/repos/{REPO}/statuses/{SHA}", "pending"), (f"/repos/{REPO}/statuses/{SHA}", "success")]
    assert detail["poll"]["state"] == "done" and detail["poll"]["last_status"] == 200
    assert fusillade.gets("t-1") >= 2
    # hookyard runs show lists the poll history, newest first.
    shown = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "runs", "show", done["key"]])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    polling = next(i for i, line in enumerate(lines) if line.startswith("polling:"))
    assert "done after" in lines[polling] and "sink fusillade-api" in lines[polling]
    assert "answer 200   events 1  final status" in lines[polling + 1]
    assert lines[-1].split()[:5] == ["#1", lines[-1].split()[1], "answer", "200", "events"]
    assert_no_secret([json.dumps(detail)], [API_KEY, GITHUB_TOKEN, WEBHOOK_SECRET])
