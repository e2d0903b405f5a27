"""The rule index (rules_index): attribute cache and literal index never change the answer."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.rules import load_rules
from tests.rules.helpers import EVENT, ROOT, event, load_text, one_rule


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
