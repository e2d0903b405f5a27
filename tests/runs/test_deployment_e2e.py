"""End to end: a scheduled Fusillade run that names no commit is gated on the deployed commit.

A real ``hookyard serve`` runs the shipped ``config.example.yaml`` (its fusillade source declares
``git: {sha: latest_deployment, environment: production}``) and rules; GitHub, Fusillade and Slack
are real local servers (the fixture of ``tests/test_examples_e2e.py``). GitHub reports three
deployments; the run completes; the shipped gate rule compares it and sets the commit status of
the commit that was deployed to production when the run started.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import Daemon, assert_no_secret, fusillade_body, wait_for
from tests.test_examples_e2e import FINAL, SECRETS, query, send, stack  # noqa: F401  (stack: its fixture)

REPO = "octo-org/shop"  # LOAD_TEST_REPO of the fixture
DEPLOYED = "1111111111111111111111111111111111111111"
# The run ends at 12:00:00 after 60 s (fusillade_body): it started at 11:59:00.
DEPLOYMENTS = [
    ("dep-prod", DEPLOYED, "production", "2026-02-06T11:00:00Z"),  # the one the run tested
    ("dep-staging", "2222222222222222222222222222222222222222", "staging", "2026-02-06T11:30:00Z"),
    ("dep-later", "3333333333333333333333333333333333333333", "production", "2026-02-06T12:30:00Z"),
]


def deployment_status(tmp: Path, name: str, sha: str, environment: str, at: str) -> Path:
    body = {
        "action": "created",
        "deployment_status": {"id": 1, "state": "success", "environment": environment, "created_at": at,
                              "updated_at": at},
        "deployment": {"id": 2, "sha": sha, "ref": "main", "environment": environment},
        "repository": {"full_name": REPO, "default_branch": "main"},
    }  # fmt: skip
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


def test_a_run_without_a_commit_gates_the_deployed_commit(
    stack: dict[str, Any],  # noqa: F811  (the imported fixture)
    daemons: list[Daemon],
) -> None:
    config, tmp = stack["config"], stack["dir"]
    daemon = Daemon(config).start()
    daemons.append(daemon)
    for name, sha, environment, at in DEPLOYMENTS:
        path = deployment_status(tmp, name, sha, environment, at)
        send(daemon, config, "github", path, "X-GitHub-Event: deployment_status")
    run = tmp / "run.json"
    run.write_bytes(fusillade_body("test.completed", "run-red", "API Load Test"))  # no "@ <sha>" in the name
    event_id = send(daemon, config, "fusillade", run)

    db = tmp / "data" / "hookyard.db"
    sql = "SELECT d.rule, d.sink_id, d.state FROM deliveries d JOIN events e ON e.id = d.event_id"

    def settled() -> list[tuple[Any, ...]] | None:
        rows = query(db, sql)
        return rows if len(rows) >= 17 and all(r[2] in FINAL for r in rows) else None

    rows = wait_for(settled, 60, daemon.logs)
    # Each production deployment also starts a load test of its own (rules/60-deploy-load-test.yaml)
    # and an AI QA run (rules/80-deploy-ai-qa.yaml: nunu, polled until it passed, and Bug0).
    started = sorted(r for r in rows if r[0].startswith("deploy-"))
    assert started == sorted(
        [("deploy-start-load-test", "fusillade-api", "succeeded"), ("deploy-start-load-test", "github", "succeeded")]
        * 2
        + [("deploy-start-ai-qa", sink, "succeeded") for sink in ("nunu-api", "bug0-api", "github")] * 2
        + [("deploy-ai-qa-finished", "github", "succeeded"), ("deploy-ai-qa-finished", "slack-perf", "succeeded")] * 2
    )
    assert sorted(r for r in rows if not r[0].startswith("deploy-")) == [
        ("load-test-compare-baseline", "fusillade-api", "succeeded"),
        ("load-test-regressed", "github", "succeeded"),
        ("load-test-regressed", "slack-perf", "succeeded"),
    ]
    statuses = [(g.path, g.json["state"], g.json["context"]) for g in stack["github"].received]
    assert [s for s in statuses if s[2] == "perf/load-test"] == [
        (f"/repos/{REPO}/statuses/{DEPLOYED}", "failure", "perf/load-test")
    ]
    ((envelope,),) = query(db, f"SELECT envelope FROM events WHERE id = '{event_id}'")
    git = json.loads(envelope)["data"]["git"]
    assert git == {"repo": REPO, "sha": DEPLOYED, "branch": None, "pr": None, "inferred_from": "deployment"}
    assert query(db, "SELECT sha FROM runs WHERE run_id = 'run-red'") == [(DEPLOYED,)]
    assert_no_secret([daemon.logs()], SECRETS)
