"""``hookyard runs`` and ``hookyard runs show``: the example config, events sent through the real app."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.cli.main import main
from receiver.config import load_config
from tests.helpers import ROOT, stripe_header

FUS_SECRET = "whsec_dev_only_fusillade"  # the example config's dev defaults
BUG0_TOKEN = "dev-only-bug0-token"
BUG0_QUEUED = {"execution": {"execution_id": "exec_9", "project_id": "shop", "status": "queued",
                             "git_commit_sha": "abc123", "git_branch": "main",
                             "owner": "acme", "repo": "shop"}}  # fmt: skip
BUG0_DONE = {"executionId": "exec_9", "projectId": "shop", "status": "completed", "result": "passed"}


def fusillade(test_id: str, passed: bool, minute: int) -> bytes:
    at = f"2026-02-06T12:{minute:02d}:00Z"
    data = {"test_id": test_id, "name": "Checkout", "status": "completed",
            "threshold_results": [{"name": "p95 < 500", "passed": passed}]}  # fmt: skip
    return json.dumps({"event": "test.completed", "timestamp": at, "data": data}).encode()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "secrets", tmp_path / "secrets")
    for var in ("FUSILLADE_WEBHOOK_SECRET", "BUG0_WEBHOOK_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    cfg = load_config(tmp_path / "config.yaml")
    app = create_app(cfg, deliver=False)
    with TestClient(app) as client:
        for body in (json.dumps(BUG0_QUEUED).encode(), json.dumps(BUG0_DONE).encode()):
            r = client.post("/hooks/bug0", content=body, headers={"X-Webhook-Token": BUG0_TOKEN})
            assert r.status_code == 202, r.text
        for test_id, passed, minute in (("t-a", True, 1), ("t-b", False, 2)):
            body = fusillade(test_id, passed, minute)
            headers = {"X-Fusillade-Signature": stripe_header(FUS_SECRET, body, int(time.time()))}
            assert client.post("/hooks/fusillade", content=body, headers=headers).status_code == 202
    return tmp_path / "config.yaml"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_and_filters(config: Path) -> None:
    code, out, _ = cli("runs", "--config", str(config))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert "fusillade" in lines[0] and "failed" in lines[0] and "broken" in lines[0]
    assert "first" in lines[1]
    assert "bug0" in lines[2] and "main abc123" in lines[2]  # the commit the queued event brought
    code, out, _ = cli("runs", "--config", str(config), "--transition", "broken", "--json")
    (only,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and only["run_id"] == "t-b" and only["previous_key"]
    code, out, err = cli("runs", "--config", str(config), "--branch", "nope")
    assert (code, out, err.strip()) == (0, "", "no runs")


def test_show(config: Path) -> None:
    _, out, _ = cli("runs", "--config", str(config), "--platform", "bug0", "--json")
    key = json.loads(out)["key"]
    code, out, _ = cli("runs", "--config", str(config), "show", key, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["run"]["git"]["sha"] == "abc123" and shown["run"]["outcome"] == "passed"
    assert [e["type"] for e in shown["events"]] == ["run.queued", "run.completed"]
    code, out, _ = cli("runs", "--config", str(config), "show", key)
    assert code == 0 and f"key:                 {key}" in out and "run.completed" in out


def test_show_lists_the_deliveries_each_event_caused(config: Path) -> None:
    _, out, _ = cli("runs", "--config", str(config), "--transition", "broken", "--json")
    key = json.loads(out)["key"]
    _, out, _ = cli("runs", "--config", str(config), "show", key, "--json")
    (event,) = json.loads(out)["events"]
    assert event["deliveries"] and {d["state"] for d in event["deliveries"]} == {"queued"}
    assert {d["rule"] for d in event["deliveries"]} <= set(event["matched_rules"])
    code, out, _ = cli("runs", "--config", str(config), "show", key)
    assert code == 0
    for d in event["deliveries"]:
        assert f"→ {d['sink']:<16} queued      {d['rule']}[{d['action_index']}]  {d['id']}" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "run_0000"], 1, "no run run_0000"),
        (["show", "../etc"], 1, "no run ../etc"),
        (["--pr", "abc"], 2, "pr must be a pull request number"),
        (["--outcome", "green"], 2, "'green' is not one of"),
    ],
)
def test_mistakes_are_messages_not_tracebacks(config: Path, args: list[str], code: int, message: str) -> None:
    got, out, err = cli("runs", "--config", str(config), *args)
    assert got == code and message in err and "Traceback" not in out + err
