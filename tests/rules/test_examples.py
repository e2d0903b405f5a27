"""The example rule files in rules/: they load, route realistic events and render exactly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from receiver.rules import RuleSet, load_rules, render_action
from receiver.rules.group import GroupView
from tests.rules.helpers import EVENTS, ROOT
from tests.testdata.rules.sink_models import SINKS


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def derived(parent: dict[str, Any], type_: str, sink: str, response: Any) -> dict[str, Any]:
    """A derived event as the dispatcher builds it from an ``emit:`` action: the answer in
    ``data.response``, the parent's ``run`` and ``git`` sections, the sink id as source."""
    child = copy.deepcopy(parent)
    child.update(type=type_, id="evt_child", source=sink, parent_id=parent["id"], platform_event=None)
    child["data"] = {"response": response, **{k: v for k, v in parent["data"].items() if k in ("run", "git")}}
    child["raw"] = response
    return child


def run_section(**values: Any) -> dict[str, Any]:
    """A ``data.run`` section as adapters build it: every documented key, null when unknown."""
    keys = ("id", "name", "project", "status", "outcome", "url", "ci_url", "started_at", "finished_at")
    return {k: None for k in (*keys, "duration_ms")} | values


def nunu_completed(outcome: str) -> dict[str, Any]:
    """A polled nunu run.completed of a run a deployment started (its commit inferred from the trigger)."""
    bug = load_event("nunu-bug-reported")
    run = run_section(id="run_8812", name="Smoke test plan", status="completed", outcome=outcome)
    counts = {"total": 12, "passed": 12 if outcome == "passed" else 10, "failed": 0 if outcome == "passed" else 2}
    git = {"sha": "abc123def456", "repo": "acme/game", "branch": "main", "inferred_from": "trigger"}
    return {
        **bug,
        "type": "run.completed",
        "platform_event": "poll",
        "data": {"run": run, "counts": counts, "git": git},
    }


EXAMPLE_EVENTS = ["fusillade-run-completed", "comparison-regressed", "nunu-bug-reported", "github-pr-opened"]
EXAMPLE_EVENTS += ["automatedfuture-run-failed", "automatedfuture-result-failed"]

PREVIOUS = {"key": "run_1", "outcome": "failed", "metrics": None, "git": None, "url": None, "finished_at": None}
EXAMPLES: list[tuple[str, dict[str, Any], list[tuple[str, str, str | None]]]] = [
    (
        "load-test-asks-for-comparison",
        load_event("fusillade-run-completed"),
        [("load-test-compare-baseline", "fusillade-api", "comparison.completed")],
    ),
    (
        "regression-fails-commit",
        load_event("comparison-regressed"),
        [("load-test-regressed", "github", None), ("load-test-regressed", "slack-perf", None)],
    ),
    (
        "no-regression-passes-commit",
        derived(
            load_event("fusillade-run-completed"),
            "comparison.completed",
            "fusillade-api",
            {"regression": False, "regression_reasons": [], "current": {"p95_latency_ms": 88.0}},
        ),
        [("load-test-passed", "github", None)],
    ),
    (
        "run-without-baseline",
        {
            **load_event("fusillade-run-completed"),
            "data": {"run": {"name": "Ad hoc"}, "metrics": {"error_rate": 0}},
        },
        [],
    ),
    (
        "failed-test-joins-the-run-s-burst",
        load_event("automatedfuture-result-failed"),
        [("af-failure-burst", "slack-perf", None)],
    ),
    (
        "passed-test-is-no-failure",
        {
            **load_event("automatedfuture-result-failed"),
            "data": {**load_event("automatedfuture-result-failed")["data"], "test": {"outcome": "passed"}},
        },
        [],
    ),
    (
        "failed-run",
        load_event("automatedfuture-run-failed"),
        [("failed-runs", "slack-perf", None), ("failed-runs", "email-qa", None)],
    ),
    (
        "failed-load-test",
        {
            **load_event("fusillade-run-completed"),
            "type": "run.failed",
            "data": {"run": run_section(status="failed", outcome="errored")},
        },
        [("failed-runs", "slack-perf", None), ("failed-runs", "email-qa", None)],
    ),
    (
        "scratch-run-is-quiet",
        {
            **load_event("automatedfuture-run-failed"),
            "data": {"run": {"name": "scratch-login", "status": "Completed", "outcome": "failed"}},
        },
        [],
    ),
    (
        "sandbox-project-is-quiet",
        {
            **load_event("automatedfuture-run-failed"),
            "data": {"run": {"name": "Checkout", "project": "QA Sandbox", "outcome": "failed"}},
        },
        [],
    ),
    (
        "run-that-flipped",  # run tracking's enrichment (docs/events.md, "Runs")
        {
            **load_event("automatedfuture-run-failed"),
            "data": {
                "run": {"name": "Checkout", "outcome": "passed", "transition": "fixed", "previous": PREVIOUS},
                "git": {"repo": "a/b", "sha": "9f86d081884c", "branch": "main", "pr": None, "inferred_from": "run"},
            },
        },
        [("run-status-flips", "slack-perf", None)],
    ),
    (
        "nightly-that-flipped",  # announced once, by the nightly rule, which stops
        {
            **load_event("automatedfuture-run-failed"),
            "data": {
                "run": {"name": "Nightly e2e", "outcome": "failed", "transition": "broken", "previous": PREVIOUS}
            },
        },
        [("nightly-flips", "slack-perf", None)],
    ),
    (
        "nightly-still-failing",  # not a flip: quiet, not even the failed-runs rule sees it
        {
            **load_event("automatedfuture-run-failed"),
            "data": {"run": {"name": "Nightly e2e", "outcome": "failed", "transition": "still_failing"}},
        },
        [],
    ),
    (
        "passed-run-is-not-a-failure",
        {
            **load_event("automatedfuture-run-failed"),
            "data": {"run": {"name": "Checkout", "outcome": "passed"}},
        },
        [],
    ),
    ("severe-bug", load_event("nunu-bug-reported"), [("ai-qa-severe-bug", "slack-perf", None)]),
    (
        "minor-bug",
        {
            **load_event("nunu-bug-reported"),
            "data": {"bug": {"id": "b2", "title": "Typo on credits screen", "severity": None, "url": None}},
        },
        [("ai-qa-other-bug", "email-qa", None)],
    ),
    (
        "pull-request",
        load_event("github-pr-opened"),
        [("pr-start-bug0-run", "bug0-api", None), ("pr-start-bug0-run", "github", None)],
    ),
    (
        "deployment-starts-a-load-test",
        {
            **load_event("github-pr-opened"),
            "type": "deployment.success",
            "data": {
                "deployment": {"id": 9, "environment": "production", "state": "success", "url": None},
                "git": {"sha": "abc123", "repo": "acme/shop-web", "branch": "main"},
            },
        },
        [
            ("deploy-start-load-test", "fusillade-api", None),
            ("deploy-start-load-test", "github", None),
            ("deploy-start-ai-qa", "nunu-api", None),
            ("deploy-start-ai-qa", "bug0-api", None),
            ("deploy-start-ai-qa", "github", None),
        ],
    ),
    (
        "preview-deployment-starts-nothing",
        {
            **load_event("github-pr-opened"),
            "type": "deployment.success",
            "data": {
                "deployment": {"id": 9, "environment": "preview", "state": "success", "url": None},
                "git": {"sha": "abc123", "repo": "acme/shop-web", "branch": "main"},
            },
        },
        [],
    ),
    (
        "started-load-test-finished",
        {
            **load_event("fusillade-run-completed"),
            "data": {
                **load_event("fusillade-run-completed")["data"],
                "run": {**load_event("fusillade-run-completed")["data"]["run"], "name": "Deploy smoke"},
                "git": {"sha": "abc123", "repo": "acme/shop-web", "branch": "main", "inferred_from": "trigger"},
            },
        },
        [("deploy-load-test-finished", "github", None)],
    ),
    (
        "started-ai-qa-run-passed",
        nunu_completed("passed"),
        [("deploy-ai-qa-finished", "github", None), ("deploy-ai-qa-finished", "slack-perf", None)],
    ),
    (
        "started-ai-qa-run-failed",  # announced once, by its own verdict rule, not by 20-failed-runs.yaml
        nunu_completed("failed"),
        [("deploy-ai-qa-finished", "github", None), ("deploy-ai-qa-finished", "slack-perf", None)],
    ),
    (
        "ai-qa-run-failed-elsewhere",  # a failed run no rule started: 20-failed-runs.yaml announces it
        {**nunu_completed("failed"), "data": {**nunu_completed("failed")["data"], "git": None}},
        [("failed-runs", "slack-perf", None), ("failed-runs", "email-qa", None)],
    ),
    (
        "ai-qa-run-started-elsewhere",  # no trigger of this daemon: no deployment's commit to set
        {**nunu_completed("passed"), "data": {**nunu_completed("passed")["data"], "git": None}},
        [],
    ),
    (
        "dependabot-pull-request",
        {
            **load_event("github-pr-opened"),
            "type": "pr.synchronize",
            "data": {"git": {"sha": "abc", "repo": "a/b", "branch": "dependabot/npm/x", "pr": 7}},
        },
        [],
    ),
]


def example_rules() -> RuleSet:
    return load_rules([ROOT / "rules"], SINKS)


def test_every_example_file_loads_and_routes_something() -> None:
    rules = example_rules()
    files = {Path(r.file).name for r in rules.rules}
    assert files == {p.name for p in (ROOT / "rules").glob("*.yaml")}
    routed = {p.rule for _, ev, _ in EXAMPLES for p in rules.plan(ev)}
    stopping = {r.name for r in rules.rules if r.stop and not r.actions}
    assert routed | stopping == {r.name for r in rules.rules}  # every example rule is exercised


@pytest.mark.parametrize(("ev", "expected"), [c[1:] for c in EXAMPLES], ids=[c[0] for c in EXAMPLES])
def test_example_rules_route_realistic_events(ev: dict[str, Any], expected: list[tuple[str, str, str | None]]) -> None:
    rules = example_rules()
    plan = rules.plan(ev)
    assert [(p.rule, p.sink, p.emit) for p in plan] == expected
    for p in plan:
        SINKS[p.sink].model_validate(render_action(p, ev))


def test_example_flagship_chain_renders_exactly() -> None:
    rules = example_rules()
    run = load_event("fusillade-run-completed")
    [compare] = rules.plan(run)
    assert render_action(compare, run) == {
        "request": {
            "method": "GET",
            "path": "/api/v1/tests/7c9e6679-7425-40de-944b-e07fc1f90ae7/compare/550e8400-e29b-41d4-a716-446655440000",
        }
    }
    regressed = load_event("comparison-regressed")
    status, slack = (render_action(p, regressed) for p in rules.plan(regressed))
    assert status == {
        "state": "failure",
        "context": "perf/load-test",
        "description": "p95 latency increased 14.8%; throughput dropped 5.6%",
        "target_url": "https://app.fusillade.io/tests/7c9e6679-7425-40de-944b-e07fc1f90ae7",
    }
    assert slack == {
        "title": "Regression: API Load Test on 9f86d08",
        "body": "• p95 latency increased 14.8%\n• throughput dropped 5.6%\n"
        "p95 102.4 ms (baseline 89.2 ms), errors 0.20%\n"
        "https://app.fusillade.io/tests/7c9e6679-7425-40de-944b-e07fc1f90ae7\n",
        "tag": "perf",
    }


def test_example_pull_request_renders_exactly() -> None:
    pr = load_event("github-pr-opened")
    bug0, pending = (render_action(p, pr) for p in example_rules().plan(pr))
    assert bug0 == {
        "request": {
            "method": "POST",
            "path": "/api/run-tests",
            "json": {
                "projectId": "507f1f77bcf86cd799439011",
                "url": "https://preview-pr-42.example.dev",
                "gitCommitSha": "abc123def4567890abc123def4567890abc12345",
                "gitBranch": "feature/new-checkout",
                "prNumber": "42",
                "owner": "acme",
                "repo": "shop-web",
            },
        }
    }
    assert pending == {
        "state": "pending",
        "context": "qa/bug0",
        "description": "Bug0 AI QA run started",
        "repo": "acme/shop-web",
        "sha": "abc123def4567890abc123def4567890abc12345",
    }


def test_example_failed_run_email_renders_exactly() -> None:
    failed = load_event("automatedfuture-run-failed")
    slack, email = (render_action(p, failed) for p in example_rules().plan(failed))
    assert slack == {
        "title": "automatedfuture run failed: Checkout regression suite",
        "body": "3 of 120 tests failed. https://ci.example.com/builds/991",
    }
    assert email["title"] == "[automatedfuture] Checkout regression suite failed"
    assert email["body"] == (
        "Run:       run_5521\n"
        "Platform:  automatedfuture (test_run.completed)\n"
        "Outcome:   failed (status Completed)\n"
        "Duration:  12m 34s\n"
        "Received:  2026-02-06T15:00:00.900Z\n"
        "Event id:  evt_01KGT80000000000000000AF01\n"
    )


def test_example_failure_burst_renders_one_message_per_run_with_the_first_20_failures() -> None:
    first = load_event("automatedfuture-result-failed")
    [burst] = example_rules().plan(first)
    spec = burst.action.group
    assert spec is not None and (spec.by, spec.wait, spec.interval, spec.max_events) == (("data.run.key",), 30, 300, 20)
    failures = [first] + [
        {**first, "id": f"evt_{i}", "data": {**first["data"], "test": {"id": f"res_{i}", "name": f"test_{i}",
                                                                         "error_message": None}}}
        for i in range(2, 24)
    ]  # fmt: skip
    message = render_action(burst, failures[-1], GroupView(failures, spec.key(first), spec.max_events))
    listed = "".join(f"• test_{i}\n" for i in range(2, 21))
    assert message == {
        "title": "23 failing tests in Checkout regression suite",
        "body": "• test_checkout_applies_coupon: AssertionError: expected total 90.00, got 100.00\n"
        f"{listed}…and 3 more.\nRun run_5521 (shop-web).",
        "tag": "perf",
    }
    # A lone failure (and `hookyard rules test`) renders as a group of one.
    assert render_action(burst, first) == {
        "title": "1 failing test in Checkout regression suite",
        "body": "• test_checkout_applies_coupon: AssertionError: expected total 90.00, got 100.00\n"
        "Run run_5521 (shop-web).",
        "tag": "perf",
    }


def test_example_rules_validate_against_the_real_sink_models() -> None:
    """The stand-in models and the sinks' own models accept the same example files."""
    from receiver.sinks import SINKS as KINDS

    kinds = {"slack-perf": "apprise", "email-qa": "apprise", "github": "github_status"}
    kinds |= {"fusillade-api": "fusillade", "bug0-api": "bug0", "nunu-api": "nunu"}
    rules = load_rules([ROOT / "rules"], {sink: KINDS[kind].action for sink, kind in kinds.items()})
    for _, ev, expected in EXAMPLES:
        plan = rules.plan(ev)
        assert [(p.rule, p.sink, p.emit) for p in plan] == expected
        for p in plan:
            render_action(p, ev)


def test_fixture_events_are_envelopes() -> None:
    keys = {"specversion", "id", "source", "type", "subject", "time", "platform", "platform_event"}
    keys |= {"received_at", "correlation_id", "parent_id", "data", "raw"}
    for name in EXAMPLE_EVENTS:
        assert keys <= set(load_event(name)), name


def test_the_nightly_example_repeats_the_same_message_at_most_every_12_hours() -> None:
    [rule] = [r for r in example_rules().rules if r.name == "nightly-flips"]
    [action] = rule.actions
    assert action.repeat_interval == 12 * 3600
    event = {**load_event("automatedfuture-run-failed")}
    event["data"] = {"run": {"name": "Nightly e2e", "transition": "broken"}, "git": {"branch": "main"}}
    [planned] = example_rules().plan(event)
    expected = {"title": "Nightly e2e broken", "body": "Nightly e2e is failing again on main"}
    assert render_action(planned, event) == expected


def test_the_deploy_ai_qa_example_renders_the_commit_status_and_one_slack_message() -> None:
    failed = nunu_completed("failed")
    *_, status, slack = (render_action(p, failed) for p in example_rules().plan(failed))
    assert status == {
        "state": "failure",
        "context": "qa/deploy-nunu",
        "description": "Smoke test plan: failed",
        "target_url": "https://app.nunu.ai/runs/run_8812",
    }
    assert slack == {
        "title": "AI QA failed: Smoke test plan on abc123d",
        "body": "2 of 12 tests failed. Bugs: https://app.nunu.ai/runs/run_8812",
        "tag": "qa",
    }
    # nunu named the run's page: the status and the message link it; no counts: the status word.
    passed = nunu_completed("passed")
    passed["data"] |= {"run": {**passed["data"]["run"], "url": "https://app.nunu.ai/r/8812"}, "counts": {}}
    *_, status, slack = (render_action(p, passed) for p in example_rules().plan(passed))
    assert (status["state"], status["target_url"]) == ("success", "https://app.nunu.ai/r/8812")
    assert slack["body"] == "The run ended with status completed. Bugs: https://app.nunu.ai/r/8812"


def test_the_deploy_ai_qa_example_starts_both_runs_with_the_deployed_commit() -> None:
    deployed = next(ev for name, ev, _ in EXAMPLES if name == "deployment-starts-a-load-test")
    planned = [p for p in example_rules().plan(deployed) if p.rule == "deploy-start-ai-qa"]
    nunu, bug0, status = (render_action(p, deployed) for p in planned)
    # No environment_url in the deployment: the app's URL (vars.app_url) is tested.
    assert nunu == {
        "start_run": {
            "projectId": "proj_game_smoke",
            "testPlanId": "plan_smoke",
            "url": "https://shop.example.com",
            "commitSha": "abc123",
        }
    }
    assert bug0 == {
        "run_tests": {
            "projectId": "507f1f77bcf86cd799439011",
            "url": "https://shop.example.com",
            "gitCommitSha": "abc123",
        }
    }
    assert (status["state"], status["context"]) == ("pending", "qa/deploy-nunu")
