"""Match conditions (rules_match): envelope attributes, combinators, paths, when."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.rules.helpers import EVENT, MATCHED, assert_match_and_explain, event, load_text, one_rule

CONDITION_CASES: list[tuple[str, dict[str, Any], str]] = [
    # (case id, match, reason: "matched" or the exact explanation)
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


@pytest.mark.parametrize(("match", "reason"), [c[1:] for c in CONDITION_CASES], ids=[c[0] for c in CONDITION_CASES])
def test_match_and_explain(match: dict[str, Any], reason: str) -> None:
    assert_match_and_explain(match, reason)


def test_paths_index_lists_from_the_end_and_null_is_missing() -> None:
    """One walker (jsonutil.dig) for rules and mappings: negative indexes count from the end."""
    last_tag = one_rule({"data.run.tags.-1": "api"})
    assert last_tag.match(EVENT) != [] and last_tag.match(event(data={"run": {"tags": ["api", "x"]}})) == []
    gone = one_rule({"data.run.tags.-3": {"exists": False}})
    assert gone.match(EVENT) != []
    null = one_rule({"data.run.url": {"exists": False}})
    assert null.match(event(data={"run": {"url": None}})) != []


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
