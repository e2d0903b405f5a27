"""``group:`` on a rule action (receiver/rules/group.py): compiled at load with located errors,
the group key an event joins, and ``group`` as a grouped message's templates see it."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.errors import ConfigError
from receiver.rules import render_action
from receiver.rules.group import GroupSpec, GroupView, parse_duration
from receiver.rules.plan import Router
from tests.rules.helpers import event, load_text


def grouped_rule(group: str, body: str = "'{{ group.count }} failures'") -> str:
    return f"""rules:
  - name: burst
    match: {{type: run.completed}}
    actions:
      - sink: slack-perf
        title: Failures
        body: {body}
        group: {group}
"""


@pytest.mark.parametrize(
    ("group", "spec"),
    [
        ("{}", GroupSpec()),
        ("{by: [data.run.key], wait: 30s, interval: 5m, max_events: 500}",
         GroupSpec(("data.run.key",), 30.0, 300.0, 500, (("data", "run", "key"),))),
        ("{by: source, wait: 2, interval: 1.5h, max_events: 20}",
         GroupSpec(("source",), 2.0, 5400.0, 20, (("source",),))),
        ("{wait: 0s, interval: 0s}", GroupSpec((), 0.0, 0.0)),
    ],
)  # fmt: skip
def test_group_spec_compiles_with_defaults(group: str, spec: GroupSpec) -> None:
    [rule] = load_text({"r.yaml": grouped_rule(group)}).rules
    assert rule.actions[0].group == spec
    assert "group" not in rule.actions[0].params  # not a sink parameter


def test_actions_without_group_are_not_grouped() -> None:
    [rule] = load_text({"r.yaml": grouped_rule("{}").replace("        group: {}\n", "")}).rules
    assert rule.actions[0].group is None


AT = "r.yaml:8: rules[0].actions[0].group"


@pytest.mark.parametrize(
    ("group", "problems"),
    [
        ("{by: [data.run.key], colour: red}", [AT + ".colour: unknown key (known: by, wait, interval, max_events)"]),
        ("{by: [1, 'a b']}", [AT + ".by: must be a list of event paths such as data.run.key"]),
        ("{wait: soon, interval: -5}",
         [AT + ".wait: 'soon' is not a duration like 30s, 5m, 12h or 7d", AT + ".interval: must not be negative"]),
        ("{max_events: 0}", [AT + ".max_events: must be a whole number of at least 1"]),
        ("{max_events: true}", [AT + ".max_events: must be a whole number of at least 1"]),
        ("[data.run.key]", [AT + ": must be a mapping with by:, wait:, interval:, max_events:"]),
    ],
)  # fmt: skip
def test_group_problems_are_located_and_reported_together(group: str, problems: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_text({"r.yaml": grouped_rule(group)})
    assert [str(p).split("/")[-1] for p in err.value.problems] == problems


def test_group_problems_come_with_the_action_s_other_problems() -> None:
    text = grouped_rule("{wait: later}").replace("title: Failures", "title: Failures\n        colour: red")
    with pytest.raises(ConfigError) as err:
        load_text({"r.yaml": text})
    messages = sorted(p.message for p in err.value.problems)
    assert messages == ["'later' is not a duration like 30s, 5m, 12h or 7d", "unknown key"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1.5h", 5400.0), ("7d", 604800.0), ("2w", 1209600.0), (" 10s ", 10.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5x", "-5s", "s", "5 m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("by", "changes", "key"),
    [
        ((), {}, "[]"),
        (("data.run.name",), {}, '["API Load Test"]'),
        (("data.run.name", "data.nope", "source"), {}, '["API Load Test",null,"fusillade-prod"]'),
        (("data.run.tags",), {}, '[["nightly","api"]]'),
        (("subject",), {"subject": None}, "[null]"),
    ],
)
def test_group_key_is_the_by_values(by: tuple[str, ...], changes: dict[str, Any], key: str) -> None:
    spec = GroupSpec(by, parts=tuple(tuple(p.split(".")) for p in by))
    assert spec.key(event(**changes)) == key


def members(*statuses: Any) -> list[dict[str, Any]]:
    return [{"id": f"evt_{i}", "data": {"result": {"status": s, "name": f"case {i}"}}} for i, s in enumerate(statuses)]


def test_group_view_caps_events_but_counts_every_member() -> None:
    view = GroupView(members("failed", "failed", "error", None, "failed"), '["run_1"]', 3)
    assert [e["id"] for e in view.events] == ["evt_0", "evt_1", "evt_2"]
    assert (view.count, view.truncated, view.key) == (5, True, ["run_1"])
    # Most frequent first; a missing value counts as None.
    assert view.counts_by("data.result.status") == {"failed": 3, "error": 1, None: 1}
    assert list(view.counts_by("data.result.status")) == ["failed", "error", None]
    assert view.counts_by("data.nope") == {None: 5}
    whole = GroupView(members("failed"), "[]", 3)
    assert (whole.count, whole.truncated, whole.key) == (1, False, [])


def test_a_grouped_message_renders_group_and_the_latest_event() -> None:
    body = (
        "'{{ group.count }} in {{ group.key[0] }}: {% for e in group.events %}{{ e.data.result.name }}; {% endfor %}"
        '{% for s, n in group.counts_by("data.result.status").items() %}{{ s }}={{ n }} {% endfor %}'
        "latest {{ event.id }}{% if group.truncated %} (+{{ group.count - group.events | length }} more){% endif %}'"
    )
    [rule] = load_text({"r.yaml": grouped_rule("{by: [data.run.key], max_events: 2}", body)}).rules
    ms = members("failed", "error", "failed")
    params = render_action(rule.planned[0], ms[-1], GroupView(ms, '["run_9"]', 2))
    assert params["body"] == "3 in run_9: case 0; case 1; failed=2 error=1 latest evt_2 (+1 more)"


def test_planning_a_grouped_action_makes_a_join_not_a_delivery() -> None:
    ruleset = load_text({"r.yaml": grouped_rule("{by: [data.run.name], wait: 10s}")})
    plan = Router(ruleset).plan(event())
    assert (plan.grouped, plan.queued) == (1, 0)  # nothing queued: ingest does not wake the dispatcher
    [join] = plan.deliveries
    assert join.group is not None and (join.group.key, join.group.wait) == ('["API Load Test"]', 10.0)
    assert (join.rule, join.action_index, join.sink_id, join.params) == ("burst", 0, "slack-perf", None)
    assert join.id.startswith("grp_")


def test_a_plan_counts_what_it_queues_now_beside_grouped_joins() -> None:
    text = grouped_rule("{}") + "      - sink: email-qa\n        title: t\n        body: b\n"
    plan = Router(load_text({"r.yaml": text})).plan(event())
    assert [d.group is None for d in plan.deliveries] == [False, True]
    assert (plan.grouped, plan.queued) == (1, 1)
    plain = Router(load_text({"r.yaml": text.replace("        group: {}\n", "")})).plan(event())
    assert (plain.grouped, plain.queued) == (0, 2)
