"""A loaded rule set at work: match order, stop, explanations, the flattened action plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from receiver.rules.load import Explanation, load_rules
from tests.rules.helpers import EVENT, event, load_text, write
from tests.testdata.rules.sink_models import SINKS

ORDER_FILES = {
    "b.yaml": "rules:\n  - name: b1\n    match: {type: 'run.*'}\n    stop: true\n  - name: b2\n",
    "a.yml": "rules:\n  - name: a1\n    match: {type: run.completed}\n  - name: a2\n    match: {source: nunu}\n",
    "c.yaml": "rules:\n  - name: c1\n    match: {type: run.completed}\n",
    "notes.txt": "not a rule file",
    ".#a.yaml": "rules: [broken",
}


@pytest.mark.parametrize(
    ("ev", "matched", "skipped"),
    [
        (EVENT, ["a1", "b1"], ["b2", "c1"]),
        (event(type="bug.reported"), ["b2"], []),
        (event(type="bug.reported", source="nunu"), ["a2", "b2"], []),
    ],
    ids=["stop-ends-routing", "stopping-rule-did-not-match", "no-stop"],
)
def test_file_name_order_and_stop(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ev: dict[str, Any],
    matched: list[str],
    skipped: list[str],
) -> None:
    write(tmp_path / "rules", ORDER_FILES)
    monkeypatch.chdir(tmp_path)
    rules = load_rules(["rules"], SINKS)
    assert [r.name for r in rules.rules] == ["a1", "a2", "b1", "b2", "c1"]
    assert [(r.file, r.line) for r in rules.rules][:3] == [
        ("rules/a.yml", 2),
        ("rules/a.yml", 4),
        ("rules/b.yaml", 2),
    ]
    assert [r.name for r in rules.match(ev)] == matched
    explained = rules.explain(ev)
    assert [e.rule for e in explained if e.matched] == matched
    assert [e.rule for e in explained if e.skipped_by] == skipped
    for e in explained:
        if e.skipped_by:
            assert e.reason == "skipped: rule 'b1' (rules/b.yaml:2) matched with stop: true"
        elif e.matched:
            assert e.reason == ("matched; stop: later rules are skipped" if e.rule == "b1" else "matched")


def test_plan_flattens_actions_in_order() -> None:
    text = """
rules:
  - name: first
    match: {type: run.completed}
    actions:
      - {sink: slack-perf, title: t, body: b}
      - {sink: fusillade-api, request: {method: GET, path: /x}, emit: comparison.completed}
  - name: only-stops
    stop: true
  - name: never
    actions: [{sink: email-qa, title: t, body: b}]
"""
    rules = load_text({"r.yaml": text})
    plan = rules.plan(EVENT)
    assert [(p.rule, p.action_index, p.sink, p.emit) for p in plan] == [
        ("first", 0, "slack-perf", None),
        ("first", 1, "fusillade-api", "comparison.completed"),
    ]
    assert plan[1].action.params == {"request": {"method": "GET", "path": "/x"}}
    assert plan[1].action.line == 7
    assert rules.rules[1].actions == ()


def test_explanation_to_dict_is_json() -> None:
    e = Explanation("r", "rules/a.yaml", 3, False, "skipped", "s")
    assert json.loads(json.dumps(e.to_dict())) == {
        "rule": "r",
        "file": "rules/a.yaml",
        "line": 3,
        "matched": False,
        "reason": "skipped",
        "skipped_by": "s",
    }
