"""The group key repeat suppression (and grouping) count by (rules/groupkey.py)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from receiver.rules.groupkey import group_key
from tests.rules.helpers import EVENT, load_text

ACTION = "rules:\n  - name: r\n    actions:\n      - sink: slack-perf\n        title: t\n        body: b\n"


def test_without_group_by_each_rule_action_has_the_empty_key() -> None:
    [action] = load_text({"r.yaml": ACTION}).rules[0].actions
    assert group_key(action, EVENT) == ""


def test_with_group_by_the_key_is_the_values_of_its_paths() -> None:
    [plain] = load_text({"r.yaml": ACTION}).rules[0].actions

    # What grouping adds to an action (group: {by: [...]}), stood in for by an attribute.
    @dataclasses.dataclass(frozen=True)
    class Grouped:
        group: SimpleNamespace

    def key(*paths: str) -> str:
        return group_key(Grouped(SimpleNamespace(by=list(paths))), EVENT)  # type: ignore[arg-type]

    assert key("data.run.name", "source") == '["API Load Test","fusillade-prod"]'
    assert key("data.run.nothing") == "[null]"
    assert key("data.metrics.requests") == "[1000]"
    assert key("data.run.name") != key("subject")
    assert group_key(plain, {**EVENT, "source": "elsewhere"}) == ""


def test_a_group_that_computes_its_own_key_is_asked() -> None:
    @dataclasses.dataclass(frozen=True)
    class Group:
        by: tuple[str, ...]

        def key(self, event: dict[str, object]) -> str:
            return f"own:{event['source']}"

    @dataclasses.dataclass(frozen=True)
    class Grouped:
        group: Group

    assert group_key(Grouped(Group(("source",))), EVENT) == "own:fusillade-prod"  # type: ignore[arg-type]
