"""Rule files: matching semantics, explanations, ordering and stop, load errors, examples."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.errors import ConfigError
from receiver.rules import Explanation, RuleSet, load_rules, render_action
from tests.testdata.rules.sink_models import SINKS

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "testdata" / "rules" / "events"

EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "evt_01",
    "source": "fusillade-prod",
    "type": "run.completed",
    "subject": "t-1",
    "time": "2026-02-06T12:00:00Z",
    "platform": "fusillade",
    "platform_event": "test.completed",
    "received_at": "2026-02-06T12:00:01.000Z",
    "correlation_id": "evt_01",
    "parent_id": None,
    "data": {
        "run": {"name": "API Load Test", "status": "completed", "tags": ["nightly", "api"]},
        "metrics": {"error_rate": 0.07, "p95_latency_ms": 120.5, "requests": 1000},
        "flags": {"ok": True},
        "git": {"sha": "0123456789abcdef"},
    },
    "raw": {"event": "test.completed"},
}


def event(**changes: Any) -> dict[str, Any]:
    """EVENT with top-level attributes replaced."""
    e = copy.deepcopy(EVENT)
    e.update(changes)
    return e


def write(root: Path, files: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


def one_rule(match: dict[str, Any], **extra: Any) -> RuleSet:
    text = yaml.safe_dump({"rules": [{"name": "r", "match": match, **extra}]}, sort_keys=False)
    return load_text({"r.yaml": text})


def load_text(files: dict[str, str]) -> RuleSet:
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), files)
        return load_rules([tmp], SINKS)


# --- operators, combinators, attributes --------------------------------------------------

MATCHED = "matched"

OPERATOR_CASES: list[tuple[str, dict[str, Any], str]] = [
    # (case id, match, reason: "matched" or the exact explanation)
    ("eq-scalar", {"data.run.status": "completed"}, MATCHED),
    ("eq-scalar-fails", {"data.run.status": "failed"}, 'data.run.status: "completed" is not "failed"'),
    ("eq-int-float", {"data.metrics.requests": 1000.0}, MATCHED),
    ("eq-bool-is-not-int", {"data.flags.ok": 1}, "data.flags.ok: true is not 1"),
    ("eq-str-is-not-number", {"data.metrics.requests": "1000"}, 'data.metrics.requests: 1000 is not "1000"'),
    ("eq-op", {"data.flags.ok": {"eq": True}}, MATCHED),
    ("eq-missing", {"data.run.owner": "qa"}, "data.run.owner: missing"),
    (
        "eq-glob-chars-are-literal-off-attributes",
        {"data.run.name": "API*"},
        'data.run.name: "API Load Test" is not "API*"',
    ),
    ("ne", {"data.run.status": {"ne": "failed"}}, MATCHED),
    ("ne-fails", {"data.run.status": {"ne": "completed"}}, 'data.run.status: "completed" equals "completed"'),
    ("ne-missing", {"data.run.owner": {"ne": "qa"}}, MATCHED),
    ("ne-other-type", {"data.metrics.requests": {"ne": "1000"}}, MATCHED),
    ("list-is-in", {"data.run.status": ["failed", "completed"]}, MATCHED),
    (
        "list-is-in-fails",
        {"data.run.status": ["failed"]},
        'data.run.status: "completed" is not in ["failed"]',
    ),
    ("in", {"data.metrics.requests": {"in": [10, 1000]}}, MATCHED),
    ("in-kinds-apart", {"data.flags.ok": {"in": [1, "true"]}}, 'data.flags.ok: true is not in [1, "true"]'),
    ("in-missing", {"data.run.owner": {"in": ["qa"]}}, "data.run.owner: missing"),
    ("in-unhashable", {"data.run.tags": {"in": [["nightly", "api"]]}}, MATCHED),
    ("not_in", {"data.run.status": {"not_in": ["failed", "error"]}}, MATCHED),
    (
        "not_in-fails",
        {"data.run.status": {"not_in": ["completed"]}},
        'data.run.status: "completed" is in ["completed"]',
    ),
    ("not_in-missing", {"data.run.owner": {"not_in": ["qa"]}}, MATCHED),
    ("regex", {"data.run.name": {"regex": "^API"}}, MATCHED),
    ("regex-searches", {"data.run.name": {"regex": "Load"}}, MATCHED),
    (
        "regex-fails",
        {"data.run.name": {"regex": "^Web"}},
        'data.run.name: "API Load Test" does not match regex "^Web"',
    ),
    (
        "regex-on-number",
        {"data.metrics.requests": {"regex": "1"}},
        'data.metrics.requests: 1000 does not match regex "1" (a number, not a string)',
    ),
    ("regex-missing", {"data.run.owner": {"regex": "."}}, "data.run.owner: missing"),
    ("glob", {"data.run.name": {"glob": "API *"}}, MATCHED),
    (
        "glob-case-sensitive",
        {"data.run.name": {"glob": "api*"}},
        'data.run.name: "API Load Test" does not match glob "api*"',
    ),
    ("gt", {"data.metrics.p95_latency_ms": {"gt": 100}}, MATCHED),
    ("gt-equal-fails", {"data.metrics.requests": {"gt": 1000}}, "data.metrics.requests: 1000 is not > 1000"),
    ("gte", {"data.metrics.requests": {"gte": 1000}}, MATCHED),
    ("lt", {"data.metrics.error_rate": {"lt": 0.1}}, MATCHED),
    ("lt-fails", {"data.metrics.error_rate": {"lt": 0.05}}, "data.metrics.error_rate: 0.07 is not < 0.05"),
    ("lte", {"data.metrics.error_rate": {"lte": 0.07}}, MATCHED),
    ("lte-fails", {"data.metrics.error_rate": {"lte": 0.06}}, "data.metrics.error_rate: 0.07 is not <= 0.06"),
    ("compare-strings", {"time": {"gte": "2026-01-01"}}, MATCHED),
    (
        "compare-string-with-number",
        {"data.run.name": {"gt": 5}},
        'data.run.name: "API Load Test" is not > 5 (cannot compare a string with a number)',
    ),
    (
        "compare-bool-with-number",
        {"data.flags.ok": {"gte": 0}},
        "data.flags.ok: true is not >= 0 (cannot compare a boolean with a number)",
    ),
    ("compare-missing", {"data.metrics.rps": {"gt": 0}}, "data.metrics.rps: missing"),
    ("range", {"data.metrics.error_rate": {"gt": 0, "lt": 0.1}}, MATCHED),
    (
        "range-second-fails",
        {"data.metrics.error_rate": {"gt": 0, "lt": 0.01}},
        "data.metrics.error_rate: 0.07 is not < 0.01",
    ),
    ("exists", {"data.git.sha": {"exists": True}}, MATCHED),
    ("exists-fails", {"data.git.branch": {"exists": True}}, "data.git.branch: missing"),
    ("exists-false", {"data.bug": {"exists": False}}, MATCHED),
    ("exists-false-null", {"parent_id": {"exists": False}}, MATCHED),
    ("exists-false-fails", {"data.git.sha": {"exists": False}}, 'data.git.sha: "0123456789abcdef" exists'),
    ("exists-under-scalar", {"data.git.sha.x": {"exists": False}}, MATCHED),
    ("contains-list", {"data.run.tags": {"contains": "nightly"}}, MATCHED),
    ("contains-string", {"data.run.name": {"contains": "Load"}}, MATCHED),
    ("contains-mapping-key", {"data.metrics": {"contains": "p95_latency_ms"}}, MATCHED),
    (
        "contains-fails",
        {"data.run.tags": {"contains": "weekly"}},
        'data.run.tags: ["nightly", "api"] does not contain "weekly"',
    ),
    (
        "contains-number-in-string",
        {"data.run.name": {"contains": 1}},
        'data.run.name: "API Load Test" does not contain 1',
    ),
    ("list-index", {"data.run.tags.1": "api"}, MATCHED),
    ("list-index-out-of-range", {"data.run.tags.5": {"exists": True}}, "data.run.tags.5: missing"),
    # envelope attributes: a bare string is a glob, a list is any-of globs
    ("type-literal", {"type": "run.completed"}, MATCHED),
    ("type-literal-fails", {"type": "run.failed"}, 'type: "run.completed" is not "run.failed"'),
    ("type-glob", {"type": "run.*"}, MATCHED),
    ("type-glob-fails", {"type": "bug.*"}, 'type: "run.completed" does not match glob "bug.*"'),
    ("type-list", {"type": ["bug.*", "run.completed"]}, MATCHED),
    ("type-list-glob", {"type": ["bug.*", "run.c*"]}, MATCHED),
    (
        "type-list-fails",
        {"type": ["bug.*", "pr.opened"]},
        'type: "run.completed" matches none of ["bug.*", "pr.opened"]',
    ),
    ("source-glob", {"source": "fusillade-*"}, MATCHED),
    ("source-list", {"source": ["nunu", "fusillade-prod"]}, MATCHED),
    ("platform-glob-chars", {"platform": "fusillad?"}, MATCHED),
    ("platform-set", {"platform": "[fg]*"}, MATCHED),
    ("platform_event", {"platform_event": "test.*"}, MATCHED),
    ("subject-glob", {"subject": "t-*"}, MATCHED),
    ("attribute-regex-op", {"type": {"regex": "^run\\.(completed|failed)$"}}, MATCHED),
    ("attribute-not_in", {"source": {"not_in": ["nunu"]}}, MATCHED),
    # combinators
    (
        "any-list",
        {"any": [{"data.run.status": "failed"}, {"data.metrics.error_rate": {"gt": 0.05}}]},
        MATCHED,
    ),
    (
        "any-list-fails",
        {"any": [{"data.run.status": "failed"}, {"data.bug.severity": "critical"}]},
        'any: no alternative held (data.run.status: "completed" is not "failed"; data.bug.severity: missing)',
    ),
    ("any-mapping", {"any": {"data.run.status": "failed", "data.flags.ok": True}}, MATCHED),
    (
        "any-list-item-is-all-of",
        {"any": [{"data.run.status": "completed", "data.flags.ok": False}, {"type": "bug.*"}]},
        "any: no alternative held (data.flags.ok: true is not false; "
        'type: "run.completed" does not match glob "bug.*")',
    ),
    ("all-list", {"all": [{"type": "run.*"}, {"data.flags.ok": True}]}, MATCHED),
    (
        "all-mapping-fails",
        {"all": {"type": "run.*", "data.flags.ok": False}},
        "all: data.flags.ok: true is not false",
    ),
    ("not", {"not": {"data.run.status": "failed"}}, MATCHED),
    (
        "not-fails",
        {"not": {"data.run.status": "completed"}},
        'not: its conditions held (data.run.status = "completed")',
    ),
    ("not-is-not-all", {"not": {"data.run.status": "completed", "data.flags.ok": False}}, MATCHED),
    ("not-missing", {"not": {"data.bug.severity": "critical"}}, MATCHED),
    (
        "not-list-fails",
        {"not": [{"type": "run.*"}, {"data.flags.ok": True}]},
        'not: its conditions held (type = "run.completed"; data.flags.ok = true)',
    ),
    (
        "nested",
        {
            "type": "run.*",
            "any": [
                {"not": {"data.run.tags": {"contains": "api"}}},
                {"data.metrics.error_rate": {"lt": 0.1}},
            ],
        },
        MATCHED,
    ),
    (
        "first-failing-in-written-order",
        {"data.run.name": {"regex": "^Web"}, "type": "bug.*"},
        'data.run.name: "API Load Test" does not match regex "^Web"',
    ),
    ("empty-match", {}, MATCHED),
]


@pytest.mark.parametrize(("match", "reason"), [c[1:] for c in OPERATOR_CASES], ids=[c[0] for c in OPERATOR_CASES])
def test_match_and_explain(match: dict[str, Any], reason: str) -> None:
    rules = one_rule(match)
    matched = reason == MATCHED
    assert [r.name for r in rules.match(EVENT)] == (["r"] if matched else [])
    [exp] = rules.explain(EVENT)
    assert exp.to_dict() == {
        "rule": "r",
        "file": exp.file,
        "line": 2,
        "matched": matched,
        "reason": reason,
        "skipped_by": None,
    }
    json.dumps(exp.to_dict())  # JSON-friendly


@pytest.mark.parametrize(
    ("changes", "matched"),
    [
        ({"type": "run.failed"}, True),
        ({"type": "bug.reported"}, False),
        ({"type": None}, False),
        ({"source": "nunu"}, False),
        ({"type": "run.completed", "source": "fusillade-staging"}, True),
        ({"type": ["run.completed"]}, False),  # unhashable: decided without the cache
    ],
)
def test_attribute_cache_gives_the_same_answer_as_explain(changes: dict[str, Any], matched: bool) -> None:
    rules = one_rule({"type": "run.*", "source": ["fusillade-*", "fusillade"]})
    for _ in range(2):  # the second call is answered from the (type, source) cache
        assert bool(rules.match(event(**changes))) is matched
        assert rules.explain(event(**changes))[0].matched is matched


# --- when ----------------------------------------------------------------------------------

WHEN_CASES = [
    ("true", "event.data.metrics.p95_latency_ms > 100", MATCHED),
    (
        "false",
        "event.data.metrics.p95_latency_ms > 500",
        "when: event.data.metrics.p95_latency_ms > 500 is False",
    ),
    ("vars", "event.data.run.name in vars.baselines", MATCHED),
    ("vars-lookup", "vars.baselines[event.data.run.name] == 'b-1'", MATCHED),
    (
        "undefined-comparison",
        "event.data.metrics.rps > 0",
        "when: UndefinedError: 'dict object' has no attribute 'rps'",
    ),
    ("undefined-value", "event.data.bug", "when: UndefinedError: 'dict object' has no attribute 'bug'"),
    ("is-defined", "event.data.bug is not defined", MATCHED),
    ("raises", "1 / 0", "when: ZeroDivisionError: division by zero"),
    (
        "incompatible",
        "event.data.run.name > 1",
        "when: TypeError: '>' not supported between instances of 'str' and 'int'",
    ),
    (
        "sandboxed",
        "event.data.run.tags.append('x')",
        "when: SecurityError: access to attribute 'append' of 'list' object is unsafe.",
    ),
]


@pytest.mark.parametrize(("when", "reason"), [c[1:] for c in WHEN_CASES], ids=[c[0] for c in WHEN_CASES])
def test_when(when: str, reason: str) -> None:
    text = yaml.safe_dump(
        {
            "vars": {"baselines": {"API Load Test": "b-1"}},
            "rules": [{"name": "r", "match": {"type": "run.*"}, "when": when}],
        }
    )
    rules = load_text({"r.yaml": text})
    assert [r.name for r in rules.match(EVENT)] == (["r"] if reason == MATCHED else [])
    assert rules.explain(EVENT)[0].reason == reason
    assert EVENT["data"]["run"]["tags"] == ["nightly", "api"]  # nothing mutated the event


def test_match_conditions_fail_before_when_is_evaluated() -> None:
    rules = one_rule({"type": "bug.*"}, when="1 / 0")
    assert rules.explain(EVENT)[0].reason == 'type: "run.completed" does not match glob "bug.*"'


# --- ordering and stop ---------------------------------------------------------------------

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


def test_files_from_several_paths_are_ordered_by_file_name(tmp_path: Path) -> None:
    write(tmp_path / "x", {"2.yaml": "rules: [{name: two}]"})
    write(tmp_path / "y", {"1.yaml": "rules: [{name: one}]", "3.yaml": "rules: [{name: three}]"})
    rules = load_rules([tmp_path / "x", tmp_path / "y" / "3.yaml", tmp_path / "y" / "1.yaml"], SINKS)
    assert [r.name for r in rules.rules] == ["one", "two", "three"]


def test_index_keeps_file_order_between_literal_and_glob_rules() -> None:
    text = yaml.safe_dump(
        {
            "rules": [
                {"name": "glob", "match": {"type": "run.*"}},
                {"name": "literal", "match": {"type": "run.completed"}},
                {"name": "by-source", "match": {"source": "fusillade-prod"}},
                {"name": "any", "match": {"any": [{"type": "run.completed"}]}},
                {"name": "both", "match": {"type": ["run.completed", "run.failed"], "source": "nunu"}},
                {"name": "everything"},
            ]
        }
    )
    rules = load_text({"r.yaml": text})
    assert [r.name for r in rules.match(EVENT)] == ["glob", "literal", "by-source", "any", "everything"]
    assert [r.name for r in rules.match(event(source="nunu"))] == [
        "glob",
        "literal",
        "any",
        "both",
        "everything",
    ]
    assert [r.name for r in rules.match(event(type=None, source=None))] == ["everything"]


def test_indexed_match_agrees_with_plain_evaluation(tmp_path: Path) -> None:
    """The shortcuts (attribute cache, literal index, gates) never change the answer."""
    spec = importlib.util.spec_from_file_location("rules_bench", ROOT / "bench" / "rules_bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rnd = random.Random(3)
    rules = [bench.make_rule(i, rnd) for i in range(300)]
    for r in rules:
        r["stop"] = False  # so every rule's answer is visible in explain
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
    ruleset = load_rules([tmp_path], {"slack": bench.Params})
    matched_total = 0
    for i in range(400):
        ev = bench.make_event(i, rnd)
        expected = [e.rule for e in ruleset.explain(ev) if e.matched]
        assert [r.name for r in ruleset.match(ev)] == expected
        matched_total += len(expected)
    assert matched_total > 1000  # the generator produces events that do match


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


def test_rule_attributes_and_version(tmp_path: Path) -> None:
    text = "vars: {team: perf}\nrules:\n  - name: r\n    description: d\n    stop: true\n"
    write(tmp_path, {"r.yaml": text})
    first = load_rules([tmp_path], SINKS)
    [rule] = first.rules
    assert (rule.name, rule.description, rule.file, rule.line, rule.stop, rule.vars) == (
        "r",
        "d",
        str(tmp_path / "r.yaml"),
        3,
        True,
        {"team": "perf"},
    )
    assert len(first.version) == 12 and int(first.version, 16) >= 0
    assert load_rules([tmp_path / "r.yaml"], SINKS).version == first.version
    (tmp_path / "r.yaml").write_text(text + "    when: 'true'\n", encoding="utf-8")
    assert load_rules([tmp_path], SINKS).version != first.version
    assert load_rules([], SINKS).rules == ()


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


# --- load errors ---------------------------------------------------------------------------

GITHUB_OK = "{sink: github, state: success, context: perf}"

LOAD_ERRORS: list[tuple[str, dict[str, str], list[str]]] = [
    (
        "unknown-param",
        {
            "perf.yaml": """rules:
  - name: a
  - name: b
  - name: c
    match:
      type: run.completed
    actions:
      - sink: github
        state: failure
        context: perf
        title: "Load test {{ event.data.run.name }}"
"""
        },
        ["rules/perf.yaml:11: rules[2].actions[0].title: unknown key"],
    ),
    (
        "unknown-sink",
        {"r.yaml": "rules:\n  - name: a\n    actions:\n      - sink: slack\n        title: t\n"},
        [
            "rules/r.yaml:4: rules[0].actions[0].sink: unknown sink 'slack' "
            "(known: bug0-api, email-qa, fusillade-api, github, slack-perf)"
        ],
    ),
    (
        "missing-sink",
        {"r.yaml": "rules:\n  - name: a\n    actions:\n      - title: t\n        body: b\n"},
        ["rules/r.yaml:4: rules[0].actions[0].sink: required key is missing"],
    ),
    (
        "wrong-param-type",
        {
            "r.yaml": "rules:\n  - name: a\n    actions:\n"
            "      - sink: github\n        state: done\n        context: [x]\n"
        },
        [
            "rules/r.yaml:5: rules[0].actions[0].state: Input should be 'pending', 'success', 'failure' or 'error'",
            "rules/r.yaml:6: rules[0].actions[0].context: Input should be a valid string",
        ],
    ),
    (
        "missing-param",
        {"r.yaml": "rules:\n  - name: a\n    actions:\n      - sink: slack-perf\n        title: t\n"},
        ["rules/r.yaml:4: rules[0].actions[0].body: required key is missing"],
    ),
    (
        "nested-param",
        {
            "r.yaml": "rules:\n  - name: a\n    actions:\n"
            "      - sink: bug0-api\n        request:\n          verb: GET\n"
        },
        ["rules/r.yaml:6: rules[0].actions[0].request.verb: unknown key"],
    ),
    (
        "bad-emit",
        {
            "r.yaml": f"rules:\n  - name: a\n    actions:\n      - {GITHUB_OK}\n"
            "      - sink: github\n        state: success\n        context: c\n        emit: 'run.*'\n"
        },
        ["rules/r.yaml:8: rules[0].actions[1].emit: must be an event type such as comparison.completed"],
    ),
    (
        "duplicate-name-across-files",
        {"a.yaml": "rules:\n  - name: gate\n", "b.yaml": "rules:\n  - name: other\n  - name: gate\n"},
        ["rules/b.yaml:3: rules[1].name: duplicate rule name 'gate' (first defined at rules/a.yaml:2)"],
    ),
    (
        "unknown-rule-key",
        {"r.yaml": "rules:\n  - name: a\n    stp: true\n"},
        ["rules/r.yaml:3: rules[0].stp: unknown key"],
    ),
    (
        "unknown-file-key",
        {"r.yaml": "variables: {}\nrules: []\n"},
        ["rules/r.yaml:1: variables: unknown key"],
    ),
    (
        "file-not-a-mapping",
        {"r.yaml": "- name: a\n"},
        ["rules/r.yaml:1: a rule file is a mapping with vars: and rules:"],
    ),
    (
        "missing-name",
        {"r.yaml": "rules:\n  - match: {type: x}\n"},
        ["rules/r.yaml:2: rules[0].name: required key is missing"],
    ),
    (
        "stop-not-bool",
        {"r.yaml": "rules:\n  - name: a\n    stop: 'yes'\n"},
        ["rules/r.yaml:3: rules[0].stop: Input should be a valid boolean"],
    ),
    (
        "unknown-match-key",
        {"r.yaml": "rules:\n  - name: a\n    match:\n      metrics.error_rate: {lt: 1}\n"},
        [
            "rules/r.yaml:4: rules[0].match.metrics.error_rate: "
            "unknown key (a path starts with an envelope attribute: type, source, data, …)"
        ],
    ),
    (
        "bad-operator",
        {"r.yaml": "rules:\n  - name: a\n    match:\n      data.x:\n        between: [1, 2]\n"},
        [
            "rules/r.yaml:5: rules[0].match.data.x.between: unknown operator "
            "(known: eq, ne, in, not_in, regex, glob, gt, gte, lt, lte, exists, contains)"
        ],
    ),
    (
        "bad-regex",
        {"r.yaml": "rules:\n  - name: a\n    match:\n      data.run.name: {regex: '(API'}\n"},
        [
            "rules/r.yaml:4: rules[0].match.data.run.name.regex: "
            "invalid regex: missing ), unterminated subpattern at position 0"
        ],
    ),
    (
        "operand-types",
        {
            "r.yaml": """rules:
  - name: a
    match:
      data.a: {in: x}
      data.b: {gt: [1]}
      data.c: {exists: 'no'}
      data.d: {regex: 5}
      data.e: {contains: {k: v}}
      data.f: null
      data.g: {}
      any: 5
      not: [x]
"""
        },
        [
            "rules/r.yaml:4: rules[0].match.data.a.in: needs a non-empty list of values",
            "rules/r.yaml:5: rules[0].match.data.b.gt: gt needs a number or a string",
            "rules/r.yaml:6: rules[0].match.data.c.exists: exists needs true or false",
            "rules/r.yaml:7: rules[0].match.data.d.regex: regex needs a string",
            "rules/r.yaml:8: rules[0].match.data.e.contains: contains needs a string, a number or a boolean",
            "rules/r.yaml:9: rules[0].match.data.f: null is not a value to compare with; use {exists: false}",
            "rules/r.yaml:10: rules[0].match.data.g: empty condition",
            "rules/r.yaml:11: rules[0].match.any: any needs a list or a mapping of conditions",
            "rules/r.yaml:12: rules[0].match.not[0]: must be a mapping of conditions",
        ],
    ),
    (
        "nested-combinator-problem",
        {
            "r.yaml": "rules:\n  - name: a\n    match:\n"
            "      any:\n        - type: x\n        - data.y: {gt: x, lt: [1]}\n"
        },
        ["rules/r.yaml:6: rules[0].match.any[1].data.y.lt: lt needs a number or a string"],
    ),
    (
        "template-syntax",
        {
            "r.yaml": "rules:\n  - name: a\n    actions:\n"
            "      - sink: slack-perf\n        title: '{{ event.x }'\n        body: b\n"
        },
        ["rules/r.yaml:5: rules[0].actions[0].title: invalid template: unexpected '}'"],
    ),
    (
        "nested-template-syntax",
        {
            "r.yaml": "rules:\n  - name: a\n    actions:\n      - sink: bug0-api\n        request:\n"
            "          path: /x\n          json: {a: ['{% if %}']}\n"
        },
        [
            "rules/r.yaml:7: rules[0].actions[0].request.json.a[0]: "
            "invalid template: Expected an expression, got 'end of statement block'"
        ],
    ),
    (
        "json-tag-not-json",
        {
            "r.yaml": "rules:\n  - name: a\n    actions:\n      - sink: bug0-api\n        request:\n"
            "          path: /x\n          json: {a: !json 'not json'}\n"
        },
        [
            "rules/r.yaml:7: rules[0].actions[0].request.json.a: "
            "!json: not valid JSON: Expecting value: line 1 column 1 (char 0)"
        ],
    ),
    (
        "json-tag-on-a-mapping",
        {
            "r.yaml": "rules:\n  - name: a\n    actions:\n      - sink: bug0-api\n        request:\n"
            "          path: /x\n          json: !json {a: 1}\n"
        },
        ["rules/r.yaml:7: rules[0].actions[0].request.json: !json takes a string"],
    ),
    (
        "json-tag-value-checked-at-load",
        {"r.yaml": "rules:\n  - name: a\n    actions:\n      - {sink: github, state: !json '\"done\"', context: c}\n"},
        ["rules/r.yaml:4: rules[0].actions[0].state: Input should be 'pending', 'success', 'failure' or 'error'"],
    ),
    (
        "unknown-tag",
        {"r.yaml": "rules:\n  - name: a\n    actions:\n      - {sink: slack-perf, title: !md t, body: b}\n"},
        [
            "rules/r.yaml:4: rules[0].actions[0].title: "
            "invalid YAML: could not determine a constructor for the tag '!md'"
        ],
    ),
    (
        "invalid-when",
        {"r.yaml": "rules:\n  - name: a\n    when: 'event.data.x >'\n"},
        ["rules/r.yaml:3: rules[0].when: invalid expression: unexpected 'end of template'"],
    ),
    (
        "all-problems-of-all-files",
        {
            "a.yaml": "rules:\n  - name: a\n    stop: 1\n  - name: b\n    match: {data.x: {nope: 1}}\n",
            "b.yaml": "rules: [unclosed\n",
            "c.yaml": "rules:\n  - name: c\n    actions: [{sink: nowhere}]\n",
        },
        [
            "rules/a.yaml:3: rules[0].stop: Input should be a valid boolean",
            "rules/a.yaml:5: rules[1].match.data.x.nope: unknown operator "
            "(known: eq, ne, in, not_in, regex, glob, gt, gte, lt, lte, exists, contains)",
            "rules/b.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>'",
            "rules/c.yaml:3: rules[0].actions[0].sink: unknown sink 'nowhere' "
            "(known: bug0-api, email-qa, fusillade-api, github, slack-perf)",
        ],
    ),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in LOAD_ERRORS], ids=[c[0] for c in LOAD_ERRORS])
def test_load_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], expected: list[str]
) -> None:
    write(tmp_path / "rules", files)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_rules(["rules"], SINKS)
    assert [str(p) for p in info.value.problems] == expected


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules([tmp_path / "nope.yaml"], SINKS)
    assert [str(p) for p in info.value.problems] == [f"{tmp_path / 'nope.yaml'}: no such file or directory"]


@pytest.mark.parametrize(
    "action",
    [
        "{sink: github, state: \"{{ 'failure' if event.data.flags.ok else 'error' }}\", context: perf}",
        "{sink: bug0-api, request: {method: '{{ vars.method }}', path: /x, headers: '{{ vars.headers }}'}}",
        "{sink: slack-perf, title: t, body: b, tag: '{{ event.platform }}'}",
    ],
    ids=["literal-field", "nested-fields", "optional-field"],
)
def test_templates_are_accepted_for_any_field_at_load(action: str) -> None:
    rules = load_text({"r.yaml": f"vars: {{method: GET}}\nrules:\n  - name: a\n    actions: [{action}]\n"})
    assert len(rules.rules[0].actions) == 1


def test_empty_files_and_empty_rule_lists_are_allowed() -> None:
    rules = load_text({"a.yaml": "", "b.yaml": "vars: {x: 1}\n", "c.yaml": "rules: []\n"})
    assert rules.rules == ()


# --- the example files in rules/ -----------------------------------------------------------


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


EXAMPLE_EVENTS = ["fusillade-run-completed", "comparison-regressed", "nunu-bug-reported", "github-pr-opened"]
EXAMPLE_EVENTS += ["automatedfuture-run-failed"]

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
        [("deploy-start-load-test", "fusillade-api", None), ("deploy-start-load-test", "github", None)],
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


def test_example_rules_validate_against_the_real_sink_models() -> None:
    """The stand-in models and the sinks' own models accept the same example files."""
    from receiver.sinks import SINKS as KINDS

    kinds = {"slack-perf": "apprise", "email-qa": "apprise", "github": "github_status"}
    kinds |= {"fusillade-api": "fusillade", "bug0-api": "http"}
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


def test_paths_index_lists_from_the_end_and_null_is_missing() -> None:
    """One walker (jsonutil.dig) for rules and mappings: negative indexes count from the end."""
    last_tag = one_rule({"data.run.tags.-1": "api"})
    assert last_tag.match(EVENT) != [] and last_tag.match(event(data={"run": {"tags": ["api", "x"]}})) == []
    gone = one_rule({"data.run.tags.-3": {"exists": False}})
    assert gone.match(EVENT) != []
    null = one_rule({"data.run.url": {"exists": False}})
    assert null.match(event(data={"run": {"url": None}})) != []
