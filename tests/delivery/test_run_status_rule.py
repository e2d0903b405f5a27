"""rules/50-run-status.yaml end to end: signed webhooks through the app and its dispatcher to a
real local Slack endpoint; only the runs that flipped post."""

from __future__ import annotations

import json
import time
from pathlib import Path

from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from tests.delivery.conftest import SHIPPED_RULES, SLACK_PATH, SLACK_TOKEN, WEBHOOK_SECRET
from tests.helpers import assert_no_secret, stripe_header
from tests.servers import RecordingServer, Reply

# The CI names its load tests "<test> @ <commit>" (as in test_e2e.py): the commit reaches data.git.
SOURCE = """\
  - id: fusillade
    kind: fusillade
    secrets: ['%s']
    normalize:
      data.run.name: "{{ payload.data.name.split(' @ ')[0] }}"
      data.git.sha: "{{ payload.data.name.split(' @ ')[1] if ' @ ' in payload.data.name else '' }}"
      data.git.branch: {value: main}
"""
# (run, passed?, commit) in the order they finish.
RUNS = [("r1", True, "a" * 40), ("r2", False, "b" * 40), ("r3", False, "c" * 40), ("r4", True, "d" * 40),
        ("r5", True, "e" * 40)]  # fmt: skip


def completed(run: str, passed: bool, sha: str, minute: int) -> bytes:
    data = {"test_id": run, "name": f"Checkout @ {sha}", "status": "completed", "duration_seconds": 60,
            "threshold_results": [{"name": "p95 < 500", "passed": passed}]}  # fmt: skip
    at = f"2026-02-06T12:{minute:02d}:00Z"
    return json.dumps({"event": "test.completed", "timestamp": at, "data": data}).encode()


def test_only_flips_post_to_slack(tmp_path: Path) -> None:
    with RecordingServer(default=Reply(200, "ok")) as slack:  # what Slack answers
        (tmp_path / "config.yaml").write_text(
            "storage: {url: 'sqlite:///data/h.db'}\n"
            f"rules: ['{SHIPPED_RULES / '50-run-status.yaml'}']\n"
            "delivery: {poll_interval_seconds: 0.05}\n"
            "sources:\n" + SOURCE % WEBHOOK_SECRET + "sinks:\n"
            f"  - id: slack-perf\n    kind: apprise\n    urls: ['https://hooks.slack.com{SLACK_PATH}']\n"
            f"    slack_base_url: {slack.url}/services\n"
        )
        config = load_config(tmp_path / "config.yaml")
        app = create_app(config)
        with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as client:
            for minute, (run, passed, sha) in enumerate(RUNS, start=1):
                body = completed(run, passed, sha, minute)
                headers = {"X-Fusillade-Signature": stripe_header(WEBHOOK_SECRET, body, int(time.time()))}
                assert client.post("/hooks/fusillade", content=body, headers=headers).status_code == 202
            deadline = time.monotonic() + 30
            while len(slack.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # anything a wrong rule would still post arrives meanwhile
            texts = [r.json["text"] for r in slack.received]
            deliveries = client.get("/api/deliveries").json()["deliveries"]
    assert sorted(texts) == [
        "*Checkout broken*\nfusillade run r2 failed, previous run passed at bbbbbbb on main",
        "*Checkout fixed*\nfusillade run r4 passed, previous run failed at ddddddd on main",
    ]
    assert sorted(d["state"] for d in deliveries) == ["succeeded", "succeeded"]
    assert_no_secret([json.dumps(deliveries)], [SLACK_TOKEN, WEBHOOK_SECRET])
