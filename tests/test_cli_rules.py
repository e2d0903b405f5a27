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


def af_result(run: str, name: str, status: str = "Failed") -> bytes:
    return json.dumps({"project_id": "project_abc123", "test_run_id": run, "test_name": name, "status": status,
                       "test_result_id": f"res_{run}_{name}", "error_message": None}).encode()  # fmt: skip


def test_rules_test_group_previews_grouped_messages_over_stored_events(workdir: Path) -> None:
    from tests.cli_env import ingest

    payloads = [af_result("run_a", f"test_{i:02d}") for i in range(23)]
    payloads += [af_result("run_b", "test_x"), af_result("run_a", "test_ok", "Passed"), af_result("run_b", "test_y")]
    ingest(workdir / "config.yaml", payloads, source="automatedfuture")
    code, out, _ = rules_test(workdir, "--group", "--json")
    assert code == 0
    found = json.loads(out)
    assert found["events"] == 26
    groups = [(g["rule"], g["count"], g["shown"], g["params"]["title"]) for g in found["groups"]]
    assert groups == [
        ("af-failure-burst", 23, 20, "23 failing tests in run_a"),
        ("af-failure-burst", 2, 2, "2 failing tests in run_b"),
    ]
    assert found["groups"][0]["params"]["body"].endswith("• test_19\n…and 3 more.\nRun run_a (project_abc123).")
    # --last: only the newest stored events.
    code, out, _ = rules_test(workdir, "--group", "--last", "2")
    assert code == 0
    assert out.splitlines()[:2] == [
        f"2 events (of the last 2 stored) make 1 group(s); rules version {found['rules_version']}",
        'GROUP af-failure-burst[0] → slack-perf  key ["' + found["groups"][1]["key"][0] + '"]: 1 event(s)',
    ]


def test_rules_test_group_over_event_files_and_one_file_without_it(workdir: Path) -> None:
    files = []
    for name in ("test_a", "test_b"):
        (workdir / f"{name}.json").write_bytes(af_result("run_a", name))
        files.append(str(workdir / f"{name}.json"))
    code, out, _ = rules_test(workdir, "--group", "--source", "automatedfuture", *files)
    assert code == 0
    assert "    title: 2 failing tests in run_a" in out.splitlines()
    code, _, err = rules_test(workdir, *files)
    assert code == 2 and "give one EVENT file (several only with --group)" in err
