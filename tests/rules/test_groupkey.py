"""The group key repeat suppression (and grouping) count by (rules/groupkey.py)."""

from __future__ import annotations

import pytest

from receiver.rules.groupkey import group_key
from tests.rules.helpers import EVENT, load_text

ACTION = "rules:\n  - name: r\n    actions:\n      - sink: slack-perf\n        title: t\n        body: b\n{extra}"


def action(extra: str = ""):  # type: ignore[no-untyped-def]
    [spec] = load_text({"r.yaml": ACTION.format(extra=extra)}).rules[0].actions
    return spec


def test_without_group_by_each_rule_action_has_the_empty_key() -> None:
    assert group_key(action(), EVENT) == ""
    assert group_key(action(), {**EVENT, "source": "elsewhere"}) == ""
    # group: without by is one group per rule action: the empty key too.
    assert group_key(action("        group: {wait: 10s}\n"), EVENT) == ""


@pytest.mark.parametrize(
    ("by", "key"),
    [
        ("[data.run.name, source]", '["API Load Test","fusillade-prod"]'),
        ("[data.run.nothing]", "[null]"),
        ("[data.metrics.requests]", "[1000]"),
    ],
)
def test_with_group_by_the_key_is_the_values_of_its_paths(by: str, key: str) -> None:
    grouped = action(f"        group: {{by: {by}}}\n")
    assert group_key(grouped, EVENT) == key
    assert group_key(grouped, EVENT) == grouped.group.key(EVENT)  # the one definition grouping uses
