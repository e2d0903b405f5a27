"""A run's commit from its deployment (pure parts): the source's ``git:`` block, which events
record a deployment, when a run started, and which runs look one up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from receiver.config import load_config
from receiver.errors import ConfigError
from receiver.runs.deployment import GitOptions, deployment_of, start_time, want
from receiver.runs.track import track
from receiver.store.runs_history import Deployment, DeploymentWant
from tests.runs.helpers import GIT, NO_GIT, envelope, no_rules
from tests.sources.helpers import PAYLOADS, envelope_for

SOURCE = "sources:\n  - id: fus\n    kind: fusillade\n    secrets: [x]\n"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("    git: {repo: acme/shop, sha: latest_deployment, colour: red}\n",
         ["{f}:5: sources[0].git.colour: unknown key"]),
        ("    git: {repo: shop, sha: latest_deployment}\n",
         ["{f}:5: sources[0].git.repo: 'shop' is not owner/name (the repository as GitHub names it)"]),
        ("    git: {repo: acme/shop, sha: HEAD}\n", ["{f}:5: sources[0].git.sha: Input should be 'latest_deployment'"]),
        ("    git:\n      sha: latest_deployment\n",
         ["{f}:6: sources[0].git.sha: latest_deployment needs repo (owner/name): whose deployments to look up"]),
        ("    git: {repo: acme/shop, environment: production}\n",
         ["{f}:5: sources[0].git: environment only applies with sha: latest_deployment"]),
        ("    baseline:\n      runs: -1\n      p95_increase: 5\n",
         ["{f}:6: sources[0].baseline.runs: Input should be greater than or equal to 0",
          "{f}:7: sources[0].baseline.p95_increase: unknown key"]),
        ("    baseline: {error_rate_increase_pp: -0.5, branch: ''}\n",
         ["{f}:5: sources[0].baseline.branch: String should have at least 1 character",
          "{f}:5: sources[0].baseline.error_rate_increase_pp: Input should be greater than or equal to 0"]),
    ],
)  # fmt: skip
def test_bad_blocks_are_located(tmp_path: Path, block: str, expected: list[str]) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(SOURCE + block)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    assert sorted(str(p) for p in info.value.problems) == sorted(e.format(f=cfg) for e in expected)


def test_blocks_compile_onto_the_source(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(SOURCE + "    git: {repo: acme/shop, branch: main, sha: latest_deployment, environment: prod}\n"
                   "    baseline: {branch: release, runs: 5, p95_increase_pct: 3}\n"
                   "  - id: plain\n    kind: fusillade\n    secrets: [x]\n")  # fmt: skip
    sources = load_config(cfg, env={}).sources
    assert sources["fus"].git == GitOptions(repo="acme/shop", branch="main", sha="latest_deployment",
                                            environment="prod")  # fmt: skip
    assert (sources["fus"].baseline.branch, sources["fus"].baseline.runs) == ("release", 5)
    assert sources["fus"].baseline.p95_increase_pct == 3 and sources["fus"].baseline.error_rate_increase_pp == 0.5
    assert sources["plain"].git is None and sources["plain"].baseline.runs == 10


def github_envelope(name: str, event: str = "deployment_status", **raw: Any) -> dict[str, Any]:
    body = json.loads((PAYLOADS / "github" / name).read_text())
    body.update(raw)
    _, env = envelope_for("github", json.dumps(body).encode(), headers={"X-GitHub-Event": event})
    return env


SUCCESS = "deployment_status_success.json"  # octo-org/Hello-World, environment preview, 03:10:00Z
SHA = "abc123def4567890abc123def4567890abc12345"
REPO = {"full_name": "octo-org/Hello-World", "default_branch": "trunk"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(github_envelope(SUCCESS), Deployment(
            "evt_TEST", "octo-org/Hello-World", "preview", SHA, "feature/checkout", None, 1_767_323_400.0),
            id="success"),
        pytest.param(github_envelope(SUCCESS, repository=REPO), Deployment(
            "evt_TEST", "octo-org/Hello-World", "preview", SHA, "feature/checkout", "trunk", 1_767_323_400.0),
            id="default-branch"),
        pytest.param(github_envelope("deployment_status_failure.json"), None, id="failure-is-no-deployment"),
        # A generic source's odd shapes: recorded as far as they go, never an error on ingest.
        pytest.param({"id": "e9", "type": "deployment.success", "time": None, "raw": ["x"],
                      "data": {"git": {"repo": "a/b", "sha": "s1"}, "deployment": "prod"}},
                     Deployment("e9", "a/b", None, "s1", None, None, 0.0), id="odd-shapes"),
        pytest.param({"id": "e9", "type": "deployment.success", "data": {"git": "a/b"}}, None, id="git-not-a-section"),
        pytest.param(github_envelope("push.json", "push"), None, id="push"),
        pytest.param(github_envelope(SUCCESS, deployment={"id": 1, "environment": "prod"}), None, id="no-sha"),
    ],
)  # fmt: skip
def test_deployment_of(env: dict[str, Any], expected: Deployment | None) -> None:
    assert deployment_of(env, 0.0) == expected


LOOKUP = GitOptions(repo="acme/shop", sha="latest_deployment", environment="production")


@pytest.mark.parametrize(
    ("options", "git", "run", "expected"),
    [
        pytest.param(LOOKUP, None, {"started_at": "2026-02-06T12:01:00Z"},
                     DeploymentWant("acme/shop", "production", 1_770_379_260.0), id="started-at"),
        pytest.param(LOOKUP, None, {"finished_at": "2026-02-06T12:01:00Z", "duration_ms": 60_000},
                     DeploymentWant("acme/shop", "production", 1_770_379_200.0), id="finished-less-duration"),
        pytest.param(LOOKUP, None, {}, DeploymentWant("acme/shop", "production", 1_770_379_200.0), id="event-time"),
        pytest.param(LOOKUP, {**NO_GIT, "repo": "acme/other"}, {},
                     DeploymentWant("acme/other", "production", 1_770_379_200.0), id="the-event-names-its-repo"),
        pytest.param(LOOKUP, GIT, {}, None, id="the-event-has-a-sha"),
        pytest.param(GitOptions(repo="acme/shop"), None, {}, None, id="source-asks-no-lookup"),
        pytest.param(None, None, {}, None, id="no-git-block"),
    ],
)  # fmt: skip
def test_which_runs_look_up_a_deployment(
    options: GitOptions | None, git: dict[str, Any] | None, run: dict[str, Any], expected: DeploymentWant | None
) -> None:
    env = envelope("e1", "run.started", time="2026-02-06T12:00:00Z", git=git, **run)
    found = track(env, 1_770_000_000.0, no_rules, options)  # fills the source's repo where the event has none
    assert found is not None
    row = found.fresh
    assert want(options, row) == expected
    if expected is not None:
        assert start_time(row) == expected.at
