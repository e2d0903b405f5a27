"""The shipped examples, end to end: ``config.example.yaml`` and every file in ``rules/``.

A real ``hookyard serve`` runs the example config as shipped; only the environment
variables the config already reads point its sinks at real local servers (Apprise
``json://`` targets for the Slack URLs, an SMTP server, GitHub, Fusillade, Bug0 and nunu fakes).
Webhooks are signed and posted with ``hookyard send``, as a user tries a setup. Every
delivery the shipped rules plan must succeed, and every shipped rule must be exercised.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from receiver.cli.main import main
from receiver.config import load_config
from receiver.rules import load_rules_for
from tests.delivery.test_e2e import compare_answer
from tests.helpers import ROOT, Daemon, assert_no_secret, fusillade_body, wait_for
from tests.platform_fakes import StartingNunu, Step, nunu_run
from tests.servers import Received, RecordingServer, Reply, SmtpSink

PAYLOADS = ROOT / "tests" / "testdata" / "payloads"
FUSILLADE_API_KEY = "fus_examples_key_5c1e"
GITHUB_TOKEN = "ghp_examples_token_0b7d"
BUG0_API_KEY = "bug0_examples_key_8e2f"
NUNU_API_KEY = "nunu_examples_key_4a7b"
SECRETS = (FUSILLADE_API_KEY, GITHUB_TOKEN, BUG0_API_KEY, NUNU_API_KEY)
# The baselines of rules/10-load-test-regression-gate.yaml.
BASELINES = {
    "API Load Test": "550e8400-e29b-41d4-a716-446655440000",
    "Checkout Flow": "6fa459ea-ee8a-3ca4-894e-db77e160355e",
}
SHA_RED = "3f786850e387550fdab836ed7e6dc881de23001b"
SHA_GREEN = "89e6c98d92887913cadf06b2adb97f26cde4849b"
PR_SHA = "abc123def4567890abc123def4567890abc12345"  # github/pull_request_opened.json
SHA_DEPLOYED = "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e"  # rules/60-deploy-load-test.yaml
DEPLOY_RUN = "run-deploy"  # what Fusillade answers for the template run that deployment starts
FINAL = {"succeeded", "dead", "superseded"}


def deploy_qa(start_run: dict[str, Any]) -> list[Step] | None:
    """The nunu run a deployment starts (rules/80-deploy-ai-qa.yaml): already passed when first polled."""
    sha = str(start_run.get("commitSha") or "")
    if not sha:
        return None
    return [Step(nunu_run(f"nunu-{sha[:7]}", "completed", result="passed", summary={"total": 8, "failed": 0}))]


def fusillade(answers: dict[str, tuple[str, bool]]) -> RecordingServer:
    """``GET /api/v1/tests/{id}/compare/{baseline}``: test id → (its baseline, regression);
    ``POST /api/v1/templates/tpl_api_smoke/run`` starts DEPLOY_RUN."""

    def respond(got: Received) -> Reply:
        parts = got.path.split("/")
        if got.headers.get("authorization") != f"Bearer {FUSILLADE_API_KEY}":
            return Reply(401, {"error": "Invalid or expired token/API key", "code": "invalid_auth"})
        if (got.method, got.path) == ("POST", "/api/v1/templates/tpl_api_smoke/run"):
            return Reply(201, {"test_id": DEPLOY_RUN, "status": "provisioning"})
        if got.method != "GET" or len(parts) != 7 or parts[:4] != ["", "api", "v1", "tests"] or parts[5] != "compare":
            return Reply(404, {"error": "not found", "code": "not_found"})
        if answers.get(parts[4], ("", False))[0] != parts[6]:
            return Reply(404, {"error": "no such test", "code": "not_found"})
        return Reply(200, compare_answer(answers[parts[4]][1]))

    return RecordingServer(respond)


def github(got: Received) -> Reply:
    parts = got.path.split("/")
    if got.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
        return Reply(401, {"message": "Bad credentials"})
    if got.method != "POST" or len(parts) != 6 or parts[1] != "repos" or parts[4] != "statuses":
        return Reply(404, {"message": "Not Found"})
    body = got.json
    if body.get("state") not in ("pending", "success", "failure", "error") or len(body.get("description") or "") > 140:
        return Reply(422, {"message": "Validation Failed"})
    return Reply(201, {"id": 1, "state": body["state"], "context": body["context"]})


def bug0(got: Received) -> Reply:
    if got.headers.get("x-api-key") != BUG0_API_KEY:
        return Reply(401, {"success": False, "error": "Unauthorized"})
    if got.method != "POST" or got.path != "/api/run-tests" or not (got.json or {}).get("projectId"):
        return Reply(400, {"success": False, "error": "Missing required parameter: projectId"})
    return Reply(200, {"success": True, "message": "Tests triggered successfully", "executionId": "exec_e2e_1"})


def chat(got: Received) -> Reply:
    """An Apprise ``json://`` endpoint that, like most services, refuses a message without text."""
    body = got.json or {}
    return Reply(200, "ok") if str(body.get("message", "")).strip() else Reply(400, "empty message")


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The example config, rules and secrets in a temp dir; its sinks' URLs on loopback servers."""
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "secrets", tmp_path / "secrets")
    answers = {
        "run-red": (BASELINES["API Load Test"], True),
        "run-green": (BASELINES["Checkout Flow"], False),
    }
    with (
        fusillade(answers) as fus_api,
        RecordingServer(github) as gh,
        RecordingServer(bug0) as bug0_api,
        StartingNunu(NUNU_API_KEY, deploy_qa) as nunu,
        RecordingServer(chat) as slack,
        SmtpSink() as smtp,
    ):
        env = {
            "SLACK_PERF_WEBHOOK_URL": f"json://127.0.0.1:{slack.port}/perf",
            "SLACK_QA_WEBHOOK_URL": f"json://127.0.0.1:{slack.port}/qa",
            "QA_EMAIL_URL": f"mailto://127.0.0.1:{smtp.port}?mode=insecure&from=hookyard@example.com&to=qa@example.com",
            "GITHUB_API_URL": gh.url,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "FUSILLADE_API_URL": fus_api.url,
            "FUSILLADE_API_KEY": FUSILLADE_API_KEY,
            "BUG0_API_URL": bug0_api.url,
            "BUG0_API_KEY": BUG0_API_KEY,
            "NUNU_API_URL": nunu.url,
            "NUNU_API_KEY": NUNU_API_KEY,
            "SINKS_ALLOW_PRIVATE": "true",
            "LOAD_TEST_REPO": "octo-org/shop",
            "NO_PROXY": "*",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for name in ("FUSILLADE_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET", "AF_WEBHOOK_SECRET", "BUG0_WEBHOOK_TOKEN"):
            monkeypatch.delenv(name, raising=False)  # the example's dev secrets sign and verify
        yield {
            "dir": tmp_path,
            "config": tmp_path / "config.yaml",
            "fusillade": fus_api,
            "github": gh,
            "bug0": bug0_api,
            "nunu": nunu,
            "slack": slack,
            "smtp": smtp,
        }


def send(daemon: Daemon, config: Path, source: str, payload: Path, *headers: str) -> str:
    """``hookyard send``: signs with the source's scheme and first secret, as the platform would."""
    args = ["send", "--config", str(config), "--source", source, "--url", f"{daemon.url}/hooks/{source}"]
    for header in headers:
        args += ["--header", header]
    result = CliRunner().invoke(main, [*args, str(payload)])
    assert result.exit_code == 0, result.output
    status, _, body = result.stdout.partition(" ")
    assert status == "202", result.stdout
    return str(json.loads(body)["event_id"])


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("shipped", [True, False], ids=["dev-defaults", "local-servers"])
def test_check_accepts_the_examples_without_warnings(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, shipped: bool
) -> None:
    if shipped:  # only the dev defaults of the file itself
        for name in ("GITHUB_API_URL", "FUSILLADE_API_URL", "BUG0_API_URL", "NUNU_API_URL", "SINKS_ALLOW_PRIVATE"):
            monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["check", "--config", str(stack["config"])])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith(f"{stack['config']}: ok: 7 sources, 6 sinks, 16 rules ")


def test_every_shipped_rule_delivers_with_the_shipped_config(stack: dict[str, Any], daemons: list[Daemon]) -> None:
    config, tmp = stack["config"], stack["dir"]
    daemon = Daemon(config).start()
    daemons.append(daemon)

    def fus(name: str, test_id: str, event: str = "test.completed", at: str = "2026-02-06T12:00:00Z") -> Path:
        path = tmp / f"{test_id}.json"
        path.write_bytes(fusillade_body(event, test_id, name, at))
        return path

    # Two failing test results of one Automated Future run (rules/70-…): sent first, since their
    # one Slack message goes out 30 s (the group's wait) after the first of them.
    failures = []
    for n, name in enumerate(("test_checkout", "test_coupon")):
        result = json.loads((PAYLOADS / "automatedfuture" / "result_bare_failed.json").read_text())
        result.update(test_name=name, test_result_id=f"res_burst_{n}")
        (tmp / f"{name}.json").write_text(json.dumps(result))
        failures.append(send(daemon, config, "automatedfuture", tmp / f"{name}.json"))
    # CI names its load-test runs "<test> @ <sha>" (the example config's normalize: block).
    red = send(daemon, config, "fusillade", fus(f"API Load Test @ {SHA_RED}", "run-red"))
    green = send(daemon, config, "fusillade", fus(f"Checkout Flow @ {SHA_GREEN}", "run-green"))
    scratch = send(daemon, config, "fusillade", fus(f"scratch-try @ {SHA_GREEN}", "run-scratch"))
    sent = {
        "regressed": red,
        "passed": green,
        "scratch": scratch,
        "fusillade-failed": send(daemon, config, "fusillade", PAYLOADS / "fusillade" / "failed.json"),
        "af-failed": send(
            daemon, config, "automatedfuture", PAYLOADS / "automatedfuture" / "run_completed_failed.json"
        ),
        "severe-bug": send(daemon, config, "nunu", PAYLOADS / "nunu" / "bug.json"),
        "minor-bug": send(daemon, config, "nunu", PAYLOADS / "nunu" / "bug_bare.json"),
        "pr": send(
            daemon, config, "github", PAYLOADS / "github" / "pull_request_opened.json", "X-GitHub-Event: pull_request"
        ),
        "af-burst-first": failures[0],
        "af-burst-last": failures[1],
        # The test that failed above ("Broken script", 12:01) passes on its next run: a flip (fixed).
        "fixed": send(daemon, config, "fusillade", fus("Broken script", "run-fixed", at="2026-02-06T12:30:00Z")),
    }
    # A nightly suite (rules/15-nightly-flips.yaml) passes, then fails the next night: one flip message.
    for name, run_id, failed in (("nightly-pass", "run_n1", 0), ("nightly-broken", "run_n2", 2)):
        nightly = {"test_run_id": run_id, "project_id": "project_abc123", "label": "Nightly regression",
                   "status": "Completed", "finished_at": f"2025-01-1{6 + failed // 2}T02:00:00Z",
                   "passed_count": 12 - failed, "failed_count": failed, "total_count": 12}  # fmt: skip
        (tmp / f"{name}.json").write_text(json.dumps(nightly))
        sent[name] = send(daemon, config, "automatedfuture", tmp / f"{name}.json")
    db = tmp / "data" / "hookyard.db"
    # A production deployment starts a load test from a template (rules/60-…); once the run is
    # recorded, its completion webhook (no commit in its name) sets the deployed commit's status.
    # It also starts a nunu run (polled to its end) and a Bug0 run (rules/80-…).
    deployment = json.loads((PAYLOADS / "github" / "deployment_status_success.json").read_text())
    deployment["deployment"].update(environment="production", sha=SHA_DEPLOYED)
    deployment["deployment_status"]["environment"] = "production"
    deployment["repository"]["full_name"] = "octo-org/shop"  # the repository the load tests test
    (tmp / "deployment.json").write_text(json.dumps(deployment))
    sent["deploy"] = send(daemon, config, "github", tmp / "deployment.json", "X-GitHub-Event: deployment_status")
    started = f"SELECT run_id, sha FROM runs WHERE run_id = '{DEPLOY_RUN}' AND trigger_delivery_id IS NOT NULL"
    assert wait_for(lambda: query(db, started), 60, daemon.logs) == [(DEPLOY_RUN, SHA_DEPLOYED)]
    sent["deploy-tested"] = send(daemon, config, "fusillade", fus("Deploy Smoke", DEPLOY_RUN))
    cols = "d.rule, d.sink_id, d.state, d.attempts, d.last_error, e.correlation_id"
    sql = f"SELECT {cols} FROM deliveries d JOIN events e ON e.id = d.event_id ORDER BY d.created_at, d.id"

    def settled() -> list[tuple[Any, ...]] | None:
        rows = query(db, sql)
        return rows if len(rows) >= 24 and all(r[2] in FINAL for r in rows) else None

    rows = wait_for(settled, 60, daemon.logs)
    # The nunu run's completion, observed by polling (no webhook was sent for it).
    polled = "SELECT id FROM events WHERE source_id = 'nunu' AND type = 'run.completed'"
    ((sent["deploy-qa-polled"],),) = query(db, polled)
    assert [r for r in rows if r[2] != "succeeded"] == []  # every planned delivery succeeded
    by_event = {label: sorted((r[0], r[1]) for r in rows if r[5] == root) for label, root in sent.items()}
    assert by_event == {
        "regressed": [
            ("load-test-compare-baseline", "fusillade-api"),
            ("load-test-regressed", "github"),
            ("load-test-regressed", "slack-perf"),
        ],
        "passed": [("load-test-compare-baseline", "fusillade-api"), ("load-test-passed", "github")],
        "scratch": [],
        "fusillade-failed": [("failed-runs", "email-qa"), ("failed-runs", "slack-perf")],
        "af-failed": [("failed-runs", "email-qa"), ("failed-runs", "slack-perf")],
        "af-burst-first": [],  # the group's one delivery hangs off its latest member
        "af-burst-last": [("af-failure-burst", "slack-perf")],
        "severe-bug": [("ai-qa-severe-bug", "slack-perf")],
        "minor-bug": [("ai-qa-other-bug", "email-qa")],
        "pr": [("pr-start-bug0-run", "bug0-api"), ("pr-start-bug0-run", "github")],
        "fixed": [("run-status-flips", "slack-perf")],
        "deploy": [
            ("deploy-start-ai-qa", "bug0-api"),
            ("deploy-start-ai-qa", "github"),
            ("deploy-start-ai-qa", "nunu-api"),
            ("deploy-start-load-test", "fusillade-api"),
            ("deploy-start-load-test", "github"),
        ],
        "deploy-tested": [("deploy-load-test-finished", "github")],
        "deploy-qa-polled": [("deploy-ai-qa-finished", "github"), ("deploy-ai-qa-finished", "slack-perf")],
        "nightly-pass": [],
        "nightly-broken": [("nightly-flips", "slack-perf")],
    }
    assert len(rows) == 24

    # Every rule of every shipped file matched some event.
    matched = {name for (names,) in query(db, "SELECT matched_rules FROM events") for name in json.loads(names)}
    shipped = load_rules_for(load_config(config))
    assert matched == {r.name for r in shipped.rules}
    assert {Path(r.file).name for r in shipped.rules} == {p.name for p in (ROOT / "rules").glob("*.yaml")}

    # What the destinations saw.
    statuses = sorted((g.path, g.json["state"], g.json["context"]) for g in stack["github"].received)
    assert statuses == sorted(
        [
            (f"/repos/octo-org/shop/statuses/{SHA_RED}", "failure", "perf/load-test"),
            (f"/repos/octo-org/shop/statuses/{SHA_GREEN}", "success", "perf/load-test"),
            (f"/repos/octo-org/Hello-World/statuses/{PR_SHA}", "pending", "qa/bug0"),
            (f"/repos/octo-org/shop/statuses/{SHA_DEPLOYED}", "pending", "perf/deploy-load-test"),
            (f"/repos/octo-org/shop/statuses/{SHA_DEPLOYED}", "success", "perf/deploy-load-test"),
            (f"/repos/octo-org/shop/statuses/{SHA_DEPLOYED}", "pending", "qa/deploy-nunu"),
            (f"/repos/octo-org/shop/statuses/{SHA_DEPLOYED}", "success", "qa/deploy-nunu"),
        ]
    )
    run_tests, deployed_tests = sorted(stack["bug0"].received, key=lambda r: r.json["gitCommitSha"] != PR_SHA)
    assert run_tests.json["gitCommitSha"] == PR_SHA and run_tests.json["prNumber"] == "42"
    assert (deployed_tests.json["gitCommitSha"], deployed_tests.json["owner"]) == (SHA_DEPLOYED, "octo-org")
    # The nunu run the deployment started: started once, then polled until it was final (here: at once).
    nunu_calls = [(r.method, r.path) for r in stack["nunu"].received]
    assert nunu_calls == [("POST", "/runs"), ("GET", "/runs/nunu-0d1e2f3"), ("GET", "/runs/nunu-0d1e2f3/bugs")]
    # The run the deployment started is also polled (GET of that test only, README "Polling").
    polls = [r for r in stack["fusillade"].received if (r.method, r.path) == ("GET", f"/api/v1/tests/{DEPLOY_RUN}")]
    compares = sorted(r.path for r in stack["fusillade"].received if r not in polls)
    assert compares == sorted(
        [
            "/api/v1/templates/tpl_api_smoke/run",
            f"/api/v1/tests/run-red/compare/{BASELINES['API Load Test']}",
            f"/api/v1/tests/run-green/compare/{BASELINES['Checkout Flow']}",
        ]
    )
    chats = [(r.path, r.json["title"], r.json["message"]) for r in stack["slack"].received]
    # Tags: perf messages reach the perf URL only, severe bugs the qa URL only; untagged: both.
    assert sorted(path for path, _, _ in chats) == ["/perf"] * 6 + ["/qa"] * 6
    burst = "• test_checkout: Assertion failed\n• test_coupon: Assertion failed\nRun run_xyz789 (project_abc123)."
    assert ("/perf", "2 failing tests in run_xyz789", burst) in chats
    # The flip rule's message (untagged: both URLs), naming the previous outcome.
    flips = [(p, m) for p, t, m in chats if t == "Broken script fixed"]
    assert sorted(p for p, _ in flips) == ["/perf", "/qa"]
    assert all("run run-fixed passed, previous run errored" in m for _, m in flips)
    assert ("/perf", f"Regression: API Load Test on {SHA_RED[:7]}") in {(p, t) for p, t, _ in chats}
    assert ("/qa", "HIGH bug found by nunu: Player falls through floor") in {(p, t) for p, t, _ in chats}
    assert all(message.strip() for _, _, message in chats)
    qa = f"AI QA passed: Smoke test plan on {SHA_DEPLOYED[:7]}"
    assert ("/qa", qa, "0 of 8 tests failed. Bugs: https://app.nunu.ai/runs/nunu-0d1e2f3") in chats
    assert ("/perf", "Nightly regression broken", "Nightly regression is failing again") in chats
    assert ("/perf", "fusillade run errored: Broken script", "Run t-3 ended with status failed.") in chats
    subjects = sorted(str(m["Subject"]) for m in stack["smtp"].messages)
    assert subjects == [
        "[automatedfuture] Nightly tests failed",
        "[fusillade] Broken script errored",
        "[nunu] Menu text overflows",
    ]

    stored = [repr(r) for table in ("events", "deliveries", "attempts") for r in query(db, f"SELECT * FROM {table}")]
    assert_no_secret([daemon.logs(), *stored], SECRETS)
