"""Loading rule files (rules.py): file order, attributes and version, every load problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.errors import ConfigError
from receiver.rules import load_rules
from tests.rules.helpers import load_text, write
from tests.testdata.rules.sink_models import SINKS


def test_files_from_several_paths_are_ordered_by_file_name(tmp_path: Path) -> None:
    write(tmp_path / "x", {"2.yaml": "rules: [{name: two}]"})
    write(tmp_path / "y", {"1.yaml": "rules: [{name: one}]", "3.yaml": "rules: [{name: three}]"})
    rules = load_rules([tmp_path / "x", tmp_path / "y" / "3.yaml", tmp_path / "y" / "1.yaml"], SINKS)
    assert [r.name for r in rules.rules] == ["one", "two", "three"]


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
            "(known: bug0-api, email-qa, fusillade-api, github, nunu-api, slack-perf)"
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
            "(known: bug0-api, email-qa, fusillade-api, github, nunu-api, slack-perf)",
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


@pytest.mark.parametrize(
    ("rule", "index", "sink"),
    [("a", 0, "slack-perf"), ("a", 1, "email-qa"), ("b", 0, "email-qa"), ("a", 2, None), ("gone", 0, None)],
)
def test_a_stored_delivery_finds_its_action_by_rule_and_index(rule: str, index: int, sink: str | None) -> None:
    rules = load_text({"r.yaml": (
        "rules:\n"
        "  - name: a\n    actions:\n      - {sink: slack-perf, title: t, body: b}\n"
        "      - {sink: email-qa, title: t, body: b}\n"
        "  - name: b\n    actions:\n      - {sink: email-qa, title: t, body: b}\n"
    )})  # fmt: skip
    planned = rules.planned_action(rule, index)
    assert (planned.sink if planned is not None else None) == sink
    assert planned is None or (planned.rule, planned.action_index) == (rule, index)
