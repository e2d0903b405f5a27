"""``hookyard rules test`` and ``rules diff`` with the example config and the shipped rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from receiver.cli.rules import param_changes
from tests.cli_env import PAYLOADS, cli, workdir_fixture  # noqa: F401 - fixtures
from tests.test_cli import ingested  # noqa: F401 - a fixture

EMPTY_MESSAGE_RULE = """\
rules:
  - name: says-nothing
    match: {type: run.failed}
    actions:
      - sink: email-qa
        title: ""
        body: "{{ event.data.run.url or '' }}"
"""


def rules_test(workdir: Path, *args: str) -> tuple[int, str, str]:
    return cli("rules", "test", "--config", str(workdir / "config.yaml"), *args)


def test_shipped_failed_runs_rule_says_something_without_counts(workdir: Path) -> None:
    code, out, _ = rules_test(workdir, "--source", "fusillade", str(PAYLOADS / "fusillade" / "failed.json"))
    assert code == 0
    assert out.splitlines()[0].startswith("event run.failed from fusillade (subject t-3); rules version ")
    slack = '→ slack-perf: {"body": "Run t-3 ended with status failed.", '
    slack += '"title": "fusillade run errored: Broken script"}'
    assert slack in out
    assert "warning" not in out


def test_rules_test_warns_when_a_message_renders_empty(workdir: Path) -> None:
    (workdir / "rules" / "99-empty.yaml").write_text(EMPTY_MESSAGE_RULE)
    failed = str(PAYLOADS / "fusillade" / "failed.json")
    code, out, _ = rules_test(workdir, "--source", "fusillade", failed)
    assert code == 0
    lines = out.splitlines()
    at = lines.index('        → email-qa: {"body": "", "title": ""}')
    assert lines[at - 1].startswith("MATCH says-nothing  (")
    assert lines[at + 1 : at + 3] == [
        "          warning: title renders empty for this event",
        "          warning: body renders empty for this event",
    ]
    assert out.count("warning:") == 2  # the shipped rules render something for the same event

    code, out, _ = rules_test(workdir, "--json", "--source", "fusillade", failed)
    report = {r["rule"]: r for r in json.loads(out)["rules"]}
    assert report["says-nothing"]["actions"][0]["warnings"] == [
        "title renders empty for this event",
        "body renders empty for this event",
    ]
    assert [a["warnings"] for a in report["failed-runs"]["actions"]] == [[], []]


def test_rules_test_names_the_failing_condition_of_the_commit_gate(workdir: Path) -> None:
    """A comparison of a run that carries no commit: the gate says it is data.git.sha, and
    an event without a subject says so in words."""
    code, out, _ = cli(
        "normalize", "--config", str(workdir / "config.yaml"), "--source", "fusillade",
        str(PAYLOADS / "fusillade" / "completed.json"),
    )  # fmt: skip
    assert code == 0
    event = json.loads(out)
    event.update(type="comparison.completed", source="fusillade-api", subject=None)
    event["data"] = {"response": {"regression": True}, "run": event["data"]["run"], "git": event["data"]["git"]}
    (workdir / "comparison.json").write_text(json.dumps(event))
    code, out, _ = rules_test(workdir, str(workdir / "comparison.json"))
    assert code == 0
    assert out.splitlines()[0].startswith("event comparison.completed from fusillade-api (no subject); ")
    [gate] = [line for line in out.splitlines() if "load-test-regressed" in line]
    assert gate.startswith("  -   load-test-regressed  (") and gate.endswith("data.git.sha: missing")


def test_rules_diff_compares_rendered_actions(workdir: Path, ingested: list[str]) -> None:  # noqa: F811
    """Same rules, sinks and emits, different parameters: a routing change, shown key by key."""
    proposed = workdir / "proposed"
    shutil.copytree(workdir / "rules", proposed)
    failed_runs = proposed / "20-failed-runs.yaml"
    text = failed_runs.read_text()
    text = text.replace('title: "[{{ event.platform }}]', 'title: "[{{ event.platform | upper }}]')
    failed_runs.write_text(text)
    code, out, _ = cli(
        "rules", "diff", "--config", str(workdir / "config.yaml"), "--rules", str(proposed), "--since", "1h"
    )
    assert code == 0
    assert out.splitlines() == [
        f"{ingested[1]}  fusillade  run.failed  t-3",
        "    ~ failed-runs[1] → email-qa",
        '        title: "[fusillade] Broken script errored" → "[FUSILLADE] Broken script errored"',
        "2 events since 1h replayed: 1 would route differently " + out.splitlines()[-1].split("differently ", 1)[1],
    ]
    code, out, err = cli(
        "rules", "diff", "--json", "--config", str(workdir / "config.yaml"), "--rules", str(proposed), "--since", "1h"
    )
    assert code == 0
    assert json.loads(out) == {
        "event_id": ingested[1],
        "source": "fusillade",
        "type": "run.failed",
        "subject": "t-3",
        "removed": [],
        "added": [],
        "changed": {
            "failed-runs[1] → email-qa": [
                'title: "[fusillade] Broken script errored" → "[FUSILLADE] Broken script errored"'
            ]
        },
    }
    assert "1 would route differently" in err


PARAM_CHANGES = [
    ("same", {"state": "failure", "x": [1, {"a": None}]}, {"x": [1, {"a": None}], "state": "failure"}, []),
    ("a-literal-word", {"state": "failure"}, {"state": "error"}, ['state: "failure" → "error"']),
    (
        "nested-added-and-removed",
        {"request": {"json": {"a": 1, "gone": "x"}}},
        {"request": {"json": {"a": 1, "b": True}}},
        ["request.json.b: (absent) → true", 'request.json.gone: "x" → (absent)'],
    ),
    ("number-kind", {"n": 1}, {"n": 1.5}, ["n: 1 → 1.5"]),
    (
        "render-error",
        {"title": "t"},
        {"render error": "template error in title: boom"},
        ['render error: (absent) → "template error in title: boom"', 'title: "t" → (absent)'],
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in PARAM_CHANGES], ids=[c[0] for c in PARAM_CHANGES])
def test_param_changes(old: dict[str, Any], new: dict[str, Any], expected: list[str]) -> None:
    assert param_changes(old, new) == expected


GITHUB_EVENTS = ("pull_request", "push", "deployment_status", "check_suite", "workflow_run", "issues", "ping")
SOURCE_OF_KIND = {"generic": "ci"}  # the example config's source ids are the kinds, but for generic


def payload_cases() -> list[tuple[str, Path, dict[str, str]]]:
    cases = []
    for path in sorted(PAYLOADS.glob("*/*.json")):
        kind = path.parent.name
        headers = {}
        if kind == "github":
            event = next((e for e in GITHUB_EVENTS if path.stem.startswith(e)), "push")
            headers["x-github-event"] = event
        cases.append((SOURCE_OF_KIND.get(kind, kind), path, headers))
    return cases


def test_shipped_rules_render_a_message_for_every_sample_payload(workdir: Path) -> None:
    """Whatever a platform leaves out, every action the shipped rules plan renders, and every
    title and body says something (Apprise services refuse an empty message)."""
    from receiver.cli.rules import _event_from, rendered_actions
    from receiver.config import load_config
    from receiver.rules import load_rules_for

    config = load_config(workdir / "config.yaml")
    ruleset = load_rules_for(config)
    planned = 0
    problems = []
    for source, path, headers in payload_cases():
        event = _event_from(config, path, source, headers)
        for rule, actions in rendered_actions(ruleset, event).items():
            for a in actions:
                planned += 1
                if "error" in a or a["warnings"]:
                    what = a.get("error") or a["warnings"]
                    problems.append((f"{path.parent.name}/{path.name}", rule, a["sink"], what))
    assert problems == []
    assert planned >= 10  # the sample payloads do reach the shipped rules
