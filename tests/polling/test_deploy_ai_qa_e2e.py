"""Deployment → AI QA, end to end: the shipped rules/80-deploy-ai-qa.yaml in a real ``hookyard
serve`` against local fakes (nunu's API with runs that move on as they are polled, Bug0's trigger
endpoint, GitHub's statuses API, a Slack incoming webhook). Two production deployments, one per
outcome: nunu passes on one commit and fails with bugs on the other; Bug0's verdicts then arrive
as its GitHub integration posts them, signed ``status`` webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from receiver.cli.main import main
from tests.helpers import ROOT, Daemon, assert_no_secret, wait_for
from tests.platform_fakes import StartingNunu, Step, nunu_bug, nunu_run
from tests.servers import Received, RecordingServer, Reply

PAYLOADS = ROOT / "tests/testdata/payloads/github"
RULES = ROOT / "rules/80-deploy-ai-qa.yaml"
NUNU_KEY = "nunu_qa_e2e_key_3d9a71"
BUG0_KEY = "bug0_qa_e2e_key_5b2c08"
GITHUB_TOKEN = "ghp_qa_e2e_token_8f1e46"
GITHUB_SECRET = "gh_qa_e2e_hook_secret_2a7d"
SLACK_TOKEN = "slackQaE2eToken9c4b"
NUNU_SECRET = "nunu_qa_e2e_webhook_6e0f"
REPO = "octo-org/Hello-World"
PASSING, FAILING = "1111111aaaaaaa1111111aaaaaaa1111111aaaaa", "2222222bbbbbbb2222222bbbbbbb2222222bbbbb"
CONTEXT = "qa/deploy-nunu"  # the rule file's vars.status_context
BUGS = [nunu_bug("bug-1", "Player falls through floor", "critical"), nunu_bug("bug-2", "Menu text overflows")]
# What each commit's nunu run goes through (the commit of start_run picks it), one step per poll of
# GET /runs/{runId}.
SCRIPTS = {
    PASSING: [
        Step(nunu_run("nunu-pass", "queued")),
        Step(nunu_run("nunu-pass", "running")),
        Step(nunu_run("nunu-pass", "completed", result="passed", summary={"total": 12, "passed": 12, "failed": 0})),
    ],
    FAILING: [
        Step(nunu_run("nunu-fail", "queued")),
        Step(nunu_run("nunu-fail", "running"), BUGS[:1]),
        Step(
            nunu_run("nunu-fail", "completed", result="failed", summary={"total": 12, "passed": 10, "failed": 2}), BUGS
        ),
    ],
}


def bug0_api(got: Received) -> Reply:
    if got.headers.get("x-api-key") != BUG0_KEY or (got.method, got.path) != ("POST", "/api/run-tests"):
        return Reply(401, {"success": False, "error": "Invalid API key"})
    sha = str((got.json or {}).get("gitCommitSha", ""))
    return Reply(200, {"success": True, "message": "Tests triggered successfully", "executionId": f"exec-{sha[:7]}"})


def github_api(got: Received) -> Reply:
    if got.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
        return Reply(401, {"message": "Bad credentials"})
    return Reply(201, {"id": 1, "state": got.json["state"], "context": got.json["context"]})


@pytest.fixture
def fakes() -> Iterator[dict[str, Any]]:
    with (
        StartingNunu(NUNU_KEY, lambda body: SCRIPTS.get(body.get("commitSha", ""))) as nunu_api,
        RecordingServer(bug0_api) as bug0,
        RecordingServer(github_api) as github,
        RecordingServer(default=Reply(200, "ok")) as slack,
    ):
        yield {"nunu": nunu_api, "bug0": bug0, "github": github, "slack": slack}


def config_text(tmp: Path, fakes: dict[str, Any]) -> str:
    (tmp / "nunu.secret").write_text(NUNU_SECRET)
    nunu_url, bug0_url, github_url, slack_url = (fakes[name].url for name in ("nunu", "bug0", "github", "slack"))
    return (
        "storage: {url: 'sqlite:///data/h.db'}\n"
        f"rules: ['{RULES}']\n"
        "delivery: {poll_interval_seconds: 0.05}\n"
        "polling: {interval_seconds: 1}\n"
        "sources:\n"
        f"  - {{id: github, kind: github, secrets: ['{GITHUB_SECRET}']}}\n"
        "  - {id: nunu, kind: nunu, secret_file: nunu.secret,\n"
        "     verify: {scheme: hmac, header: X-Signature, algorithm: sha256, encoding: hex, prefix: 'sha256='}}\n"
        "sinks:\n"
        f"  - {{id: nunu-api, kind: nunu, api_key: '{NUNU_KEY}', base_url: '{nunu_url}', allow_private: true}}\n"
        f"  - {{id: bug0-api, kind: bug0, api_key: '{BUG0_KEY}', base_url: '{bug0_url}', allow_private: true}}\n"
        f"  - {{id: github, kind: github_status, token: '{GITHUB_TOKEN}', api_url: '{github_url}',\n"
        "     allow_private: true}\n"
        "  - {id: slack-perf, kind: apprise,\n"
        f"     urls: [{{url: 'https://hooks.slack.com/services/T0QA/B0QA/{SLACK_TOKEN}', tag: qa}}],\n"
        f"     slack_base_url: '{slack_url}/services'}}\n"
    )  # fmt: skip


def send(daemon: Daemon, config: Path, payload: Path, event: str) -> str:
    """``hookyard send``: signed with the github source's secret, as GitHub signs."""
    args = ["send", "--config", str(config), "--source", "github", "--url", f"{daemon.url}/hooks/github"]
    result = CliRunner().invoke(main, [*args, "--header", f"X-GitHub-Event: {event}", str(payload)])
    assert result.exit_code == 0, result.output
    status, _, body = result.stdout.partition(" ")
    assert status == "202", result.stdout
    return str(json.loads(body)["event_id"])


def payload(tmp: Path, name: str, template: str, **changes: Any) -> Path:
    body = json.loads((PAYLOADS / template).read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            body[key].update(value)
        else:
            body[key] = value
    (tmp / name).write_text(json.dumps(body))
    return tmp / name


def runs(api: httpx.Client) -> dict[tuple[str, str], dict[str, Any]]:
    """The tracked runs by (platform, commit)."""
    return {(r["platform"], r["git"]["sha"]): r for r in api.get("/api/runs").json()["runs"]}


def final_run(api: httpx.Client, platform: str, sha: str) -> dict[str, Any] | None:
    run = runs(api).get((platform, sha))
    return run if run and run["final"] else None


def bug0_runs_of(api: httpx.Client) -> dict[str, dict[str, Any]] | None:
    """The Bug0 runs of both deployments by commit, once both are recorded."""
    found = runs(api)
    return (
        {sha: found[("bug0", sha)] for sha in (PASSING, FAILING)}
        if all(("bug0", sha) in found for sha in (PASSING, FAILING))
        else None
    )


def envelopes(api: httpx.Client, key: str) -> list[dict[str, Any]]:
    detail = api.get(f"/api/runs/{key}").json()
    return [api.get(f"/api/events/{e['id']}").json()["event"]["envelope"] for e in detail["events"]]


def test_a_deployment_runs_ai_qa_and_its_commit_and_slack_get_the_verdict(
    tmp_path: Path, fakes: dict[str, Any], daemons: list[Daemon]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text(tmp_path, fakes))
    daemon = Daemon(config).start()
    daemons.append(daemon)
    github, slack = fakes["github"], fakes["slack"]
    with httpx.Client(base_url=daemon.url, timeout=10) as api:
        for sha in (PASSING, FAILING):
            deployed = payload(
                tmp_path, f"deploy-{sha[:7]}.json", "deployment_status_success.json",
                deployment={"sha": sha, "environment": "production"},
                deployment_status={"environment": "production"},
            )  # fmt: skip
            send(daemon, config, deployed, "deployment_status")
        # Each nunu run is polled until it completes; then its commit and Slack hear of it.
        for sha in (PASSING, FAILING):
            wait_for(lambda sha=sha: final_run(api, "nunu", sha), 30, daemon.logs)  # type: ignore[misc]
        wait_for(lambda: len(github.received) >= 4 and len(slack.received) >= 2, 30, daemon.logs)
        nunu_runs = {sha: runs(api)[("nunu", sha)] for sha in (PASSING, FAILING)}
        nunu_events = {sha: envelopes(api, run["key"]) for sha, run in nunu_runs.items()}
        bug0_started = wait_for(lambda: bug0_runs_of(api), 30, daemon.logs)
        deliveries_before_bug0 = len(api.get("/api/deliveries?limit=100").json()["deliveries"])

        # Bug0's integration reports on each commit: pending, then its verdict.
        verdicts = {PASSING: ("success", "24 tests passed"), FAILING: ("failure", "2 of 24 tests failed")}
        bug0_events: dict[str, list[dict[str, Any]]] = {}
        for sha, (state, description) in verdicts.items():
            commit = {"sha": sha}
            ids = [
                send(daemon, config, payload(tmp_path, f"{state}-{n}.json", template, id=n, sha=sha, commit=commit,
                     **extra), "status")
                for n, (template, extra) in enumerate(
                    [
                        ("status_bug0_pending.json", {}),
                        ("status_bug0_failure.json", {"state": state, "description": description}),
                    ],
                    start=len(bug0_events) * 2 + 1,
                )
            ]  # fmt: skip
            bug0_events[sha] = [api.get(f"/api/events/{i}").json()["event"]["envelope"] for i in ids]
        bug0_runs = wait_for(lambda: bug0_runs_of(api), 30)
        deliveries_after_bug0 = len(api.get("/api/deliveries?limit=100").json()["deliveries"])
        page = api.get(f"/ui/runs/{nunu_runs[FAILING]['key']}").text
    shown = CliRunner().invoke(main, ["--config", str(config), "runs", "show", bug0_runs[FAILING]["key"]])
    polled = CliRunner().invoke(main, ["--config", str(config), "runs", "show", nunu_runs[FAILING]["key"]])

    # The triggers carried the deployed commit.
    triggered = sorted((r.json["commitSha"], r.json["projectId"]) for r in fakes["nunu"].requests("/runs"))
    assert triggered == [(PASSING, "proj_game_smoke"), (FAILING, "proj_game_smoke")]
    assert sorted(r.json["gitCommitSha"] for r in fakes["bug0"].received) == [PASSING, FAILING]
    assert {sha: (r["run_id"], r["status"]) for sha, r in bug0_started.items()} == {
        PASSING: ("exec-1111111", "queued"),
        FAILING: ("exec-2222222", "queued"),
    }
    # Polled from queued to completed: each change once (queued is what the trigger recorded, so
    # the first poll adds nothing), each bug once although every later poll lists it again. (Sorted:
    # a run lists its events by id, and the ids of one poll's events, made in one millisecond, sort at random.)
    seen = {
        sha: sorted((e["type"], e["platform_event"], (e["data"].get("bug") or {}).get("id")) for e in events)
        for sha, events in nunu_events.items()
    }
    assert seen == {
        PASSING: [("run.completed", "poll", None), ("run.started", "poll", None)],
        FAILING: [
            ("bug.reported", "poll", "bug-1"),
            ("bug.reported", "poll", "bug-2"),
            ("run.completed", "poll", None),
            ("run.started", "poll", None),
        ],
    }
    assert all(e["data"]["git"]["inferred_from"] == "trigger" for events in nunu_events.values() for e in events)
    assert {sha: (r["outcome"], r["run_id"]) for sha, r in nunu_runs.items()} == {
        PASSING: ("passed", "nunu-pass"),
        FAILING: ("failed", "nunu-fail"),
    }
    assert len(fakes["nunu"].requests("/runs/nunu-fail")) == 3  # queued, running, completed: then it stops
    # The commit: pending, then the verdict, under the rule file's context.
    statuses = [(g.path, g.json["state"], g.json["context"]) for g in github.received]
    for sha, verdict in ((PASSING, "success"), (FAILING, "failure")):
        path = f"/repos/{REPO}/statuses/{sha}"
        assert [s for s in statuses if s[0] == path] == [(path, "pending", CONTEXT), (path, verdict, CONTEXT)]
    assert len(statuses) == 4
    # Slack: ONE message per deployment, with the outcome, the counts and the run's page.
    messages = sorted((m.json["text"] for m in slack.received), key=lambda text: "failed" in text.split("\n")[0])
    assert len(messages) == 2
    assert "AI QA passed: Smoke test plan on 1111111" in messages[0] and "0 of 12 tests failed." in messages[0]
    assert "AI QA failed: Smoke test plan on 2222222" in messages[1] and "2 of 12 tests failed." in messages[1]
    assert "Bugs: https://app.nunu.ai/runs/nunu-fail" in messages[1]

    # Bug0's statuses are the Bug0 runs' events, linked to the runs the deployments started.
    for sha, outcome in ((PASSING, "passed"), (FAILING, "failed")):
        run = bug0_runs[sha]
        assert (run["key"], run["status"], run["outcome"], run["final"]) == (
            bug0_started[sha]["key"], "completed", outcome, True
        )  # fmt: skip
        linked = [(e["platform"], e["type"], e["data"]["run"]["key"], e["data"]["run"]["id"]) for e in bug0_events[sha]]
        assert linked == [
            ("bug0", "run.started", run["key"], run["run_id"]),
            ("bug0", "run.completed", run["key"], run["run_id"]),
        ]
    # … and route as the rule file says: nowhere (Bug0 already put its verdict on the commit).
    assert deliveries_after_bug0 == deliveries_before_bug0 == 2 * 5  # per deployment: 3 calls, status, Slack
    assert (len(github.received), len(slack.received)) == (4, 2)
    # hookyard runs show: the Bug0 run with the commit, and the nunu run's poll history.
    assert shown.exit_code == 0, shown.output
    fields = dict(line.split(":", 1) for line in shown.output.splitlines() if not line.startswith(" "))
    assert {k: fields[k].strip() for k in ("platform", "run_id", "status", "outcome")} == {
        "platform": "bug0", "run_id": "exec-2222222", "status": "completed", "outcome": "failed"
    }  # fmt: skip
    assert json.loads(fields["git"])["sha"] == FAILING
    assert [line.split()[2] for line in shown.output.splitlines() if line.startswith("  evt_")] == [
        "run.started", "run.completed"
    ]  # fmt: skip
    assert polled.exit_code == 0, polled.output
    history = polled.output[polled.output.index("polling:") :].splitlines()
    assert history[0].split()[1:6] == ["done", "after", "3", "polls:", "the"] and "sink nunu-api" in history[0]
    assert [line.split()[0] for line in history[1:]] == ["#3", "#2", "#1"]
    assert history[1].split()[2:] == ["answer", "200", "events", "1", "final", "status"]
    assert "nunu-fail" in page and "done after 3 polls: the run reached a final status" in page
    secrets = [NUNU_KEY, BUG0_KEY, GITHUB_TOKEN, GITHUB_SECRET, SLACK_TOKEN, NUNU_SECRET]
    assert_no_secret([daemon.logs(), page, shown.output, polled.output, json.dumps(nunu_events)], secrets)
