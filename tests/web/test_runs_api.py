"""/api/runs through the real app (real SQLite, signed Fusillade webhooks), and a rule on
``data.run.transition`` that routes only the flips."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from tests.helpers import assert_no_secret, stripe_header

SECRET = "whsec_runs_api_9f3e"
FLIP_RULES = """\
rules:
  - name: flips
    match: {data.run.transition: {in: [broken, fixed]}}
    actions:
      - sink: hook
        request:
          method: POST
          path: /flip
          json: {run: "{{ event.data.run.key }}", was: "{{ event.data.run.previous.outcome }}"}
"""
# (test id, passed?, finish minute) in arrival order, and the transition each gets.
HISTORY = [("t1", True, 1), ("t2", False, 2), ("t3", False, 3), ("t4", True, 4), ("t5", True, 5)]
TRANSITIONS = ["first", "broken", "still_failing", "fixed", "still_passing"]


def completed(test_id: str, passed: bool, minute: int) -> bytes:
    at = f"2026-02-06T12:{minute:02d}:00Z"
    p95 = 400 if passed else 650
    thresholds = [{"name": "p95 < 500", "passed": passed, "value": p95}]
    data = {"test_id": test_id, "name": "Checkout", "status": "completed", "duration_seconds": 60,
            "p95_latency_ms": p95, "threshold_results": thresholds}  # fmt: skip
    return json.dumps({"event": "test.completed", "timestamp": at, "data": data}).encode()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "rules.yaml").write_text(FLIP_RULES)
    (tmp_path / "config.yaml").write_text(
        "storage: {url: 'sqlite:///data/runs.db'}\nrules: [rules.yaml]\n"
        f"sources:\n  - id: fusillade\n    kind: fusillade\n    secrets: ['{SECRET}']\n"
        "sinks:\n  - id: hook\n    kind: http\n    base_url: http://127.0.0.1:9\n    allow_private: true\n"
    )
    config = load_config(tmp_path / "config.yaml")
    app = create_app(config, deliver=False)
    with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as c:
        for test_id, passed, minute in HISTORY:
            body = completed(test_id, passed, minute)
            headers = {"X-Fusillade-Signature": stripe_header(SECRET, body, int(time.time()))}
            assert c.post("/hooks/fusillade", content=body, headers=headers).status_code == 202
        yield c


def test_a_transition_rule_routes_only_the_flips(client: TestClient) -> None:
    runs = client.get("/api/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == ["t5", "t4", "t3", "t2", "t1"]
    assert [r["transition"] for r in reversed(runs)] == TRANSITIONS
    for run in runs:
        detail = client.get(f"/api/runs/{run['key']}").json()
        (event,) = detail["events"]
        assert detail["run"] == run
        flipped = run["transition"] in ("broken", "fixed")
        assert event["matched_rules"] == (["flips"] if flipped else [])
        deliveries = client.get(f"/api/events/{event['id']}").json()["deliveries"]
        assert len(deliveries) == (1 if flipped else 0)
        if flipped:  # the template saw the enriched event: the run's key and the previous run
            previous = "passed" if run["transition"] == "broken" else "failed"
            assert deliveries[0]["params"]["request"]["json"] == {"run": run["key"], "was": previous}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["t5", "t4", "t3", "t2", "t1"]),
        ("?transition=broken", ["t2"]),
        ("?outcome=failed", ["t3", "t2"]),
        ("?name=Checkout&platform=fusillade&limit=2", ["t5", "t4"]),
        ("?name=Other", []),
        ("?branch=main", []),
        ("?pr=42", []),
    ],
)
def test_filters(client: TestClient, query: str, expected: list[str]) -> None:
    r = client.get("/api/runs" + query)
    assert r.status_code == 200
    assert [x["run_id"] for x in r.json()["runs"]] == expected


def test_paging(client: TestClient) -> None:
    seen: list[str] = []
    url = "/api/runs?limit=2"
    while url:
        page = client.get(url).json()
        seen += [r["run_id"] for r in page["runs"]]
        url = f"/api/runs?limit=2&before={page['next_before']}" if page["next_before"] else ""
    assert seen == ["t5", "t4", "t3", "t2", "t1"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/runs?transition=flipped", 400, "bad_transition"),
        ("/api/runs?outcome=green", 400, "bad_outcome"),
        ("/api/runs?pr=forty-two", 400, "bad_pr"),
        ("/api/runs?before=evt_1", 400, "bad_before"),
        ("/api/runs?limit=0", 400, "bad_limit"),
        ("/api/runs?name=" + "x" * 201, 400, "bad_name"),
        ("/api/runs/run_0123", 404, "unknown_run"),
        ("/api/runs/not-a-key", 404, "unknown_run"),
    ],
)
def test_bad_requests_are_4xx_json(client: TestClient, path: str, status: int, code: str) -> None:
    r = client.get(path)
    assert r.status_code == status
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["error"]
    assert_no_secret([r.text], [SECRET])
