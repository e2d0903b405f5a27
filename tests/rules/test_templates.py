"""Action templates: filters, nested parameters, runtime failures as RenderError."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.errors import HookyardError
from receiver.rules import PlannedAction, load_rules, render_action
from receiver.rules.templates import RenderError, compile_params, render_value
from receiver.templating import duration, percent, short_sha
from tests.testdata.rules.sink_models import SINKS

EVENT: dict[str, Any] = {
    "id": "evt_01",
    "type": "run.completed",
    "source": "fusillade-prod",
    "subject": "t-1",
    "platform": "fusillade",
    "data": {
        "run": {"name": "API Load Test", "duration_ms": 65000, "tags": ["nightly"]},
        "metrics": {"error_rate": 0.012, "p95_latency_ms": 850},
        "git": {"sha": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"},
    },
}


def planned(action: dict[str, Any], variables: dict[str, Any] | None = None) -> PlannedAction:
    text = yaml.safe_dump({"vars": variables or {}, "rules": [{"name": "r", "actions": [action]}]})
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "r.yaml").write_text(text, encoding="utf-8")
        [p] = load_rules([tmp], SINKS).plan(EVENT)
    return p


def render_body(body: str, variables: dict[str, Any] | None = None, event: dict[str, Any] = EVENT) -> str:
    params = render_action(planned({"sink": "slack-perf", "title": "t", "body": body}, variables), event)
    return str(params["body"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "9f86d08"),
        ("abc", "abc"),
        (None, ""),
        (1234567890, "1234567"),
    ],
)
def test_short_sha(value: Any, expected: str) -> None:
    assert short_sha(value) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (0, "0 ms"),
        (850, "850 ms"),
        (999.4, "999 ms"),
        (1000, "1s"),
        (4200, "4.2s"),
        (42000, "42s"),
        (59940, "59.9s"),
        (60000, "1m 00s"),
        (65000, "1m 05s"),
        (754000, "12m 34s"),
        (3723000, "1h 02m 03s"),
        ("1500", "1.5s"),
        (-65000, "-1m 05s"),
    ],
)
def test_duration(ms: Any, expected: str) -> None:
    assert duration(ms) == expected


@pytest.mark.parametrize(
    ("ratio", "digits", "expected"),
    [(0.012, 1, "1.2%"), (0.5, 1, "50.0%"), (0.00123, 2, "0.12%"), (1, 0, "100%"), (0, 1, "0.0%")],
)
def test_percent(ratio: Any, digits: int, expected: str) -> None:
    assert percent(ratio, digits) == expected


@pytest.mark.parametrize(("fn", "value"), [(duration, "abc"), (duration, True), (percent, None), (percent, [1])])
def test_number_filters_reject_non_numbers(fn: Any, value: Any) -> None:
    with pytest.raises(TypeError, match="expected a number"):
        fn(value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{{ event.data.git.sha | short_sha }}", "9f86d08"),
        ("{{ event.data.run.duration_ms | duration }}", "1m 05s"),
        ("{{ event.data.metrics.p95_latency_ms | duration }}", "850 ms"),
        ("{{ event.data.metrics.error_rate | percent }}", "1.2%"),
        ("{{ event.data.metrics.error_rate | percent(2) }}", "1.20%"),
        ("{{ event.data.run.name | truncate(6, leeway=0) }}", "API..."),
        ("{{ event.data.run.name | truncate(20) }}", "API Load Test"),
        ("{{ vars.team }}/{{ vars.owners[event.data.run.name] }}", "perf/alice"),
        ("{% for t in event.data.run.tags %}#{{ t }} {% endfor %}", "#nightly "),
        ("{{ event.data.run.owner | default('nobody') }}", "nobody"),
        (
            "{{ event.data.run | tojson }}",
            '{"duration_ms": 65000, "name": "API Load Test", "tags": ["nightly"]}',
        ),
        ("<b>{{ event.data.run.name }}</b>", "<b>API Load Test</b>"),  # text, not HTML-escaped
        ("no template here {", "no template here {"),
    ],
)
def test_templates_and_filters(body: str, expected: str) -> None:
    assert render_body(body, {"team": "perf", "owners": {"API Load Test": "alice"}}) == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ event.data.run.nme }}", "template error in body: 'dict object' has no attribute 'nme'"),
        ("{{ event.data.bug.title }}", "template error in body: 'dict object' has no attribute 'bug'"),
        ("{{ vars.missing }}", "template error in body: 'dict object' has no attribute 'missing'"),
        (
            "{{ event.data.run.name | duration }}",
            "template error in body: duration: expected a number, got 'API Load Test'",
        ),
        ("{{ 1 / 0 }}", "template error in body: ZeroDivisionError: division by zero"),
        (
            "{{ event.data.run.tags.append('x') }}",
            "template error in body: access to attribute 'append' of 'list' object is unsafe.",
        ),
        (
            "{{ event.__class__.__mro__ }}",
            "template error in body: access to attribute '__class__' of 'dict' object is unsafe.",
        ),
    ],
)
def test_runtime_failures_are_render_errors(body: str, reason: str) -> None:
    before = copy.deepcopy(EVENT)
    with pytest.raises(RenderError) as info:
        render_body(body)
    assert info.value.reason == reason
    assert str(info.value) == reason
    assert isinstance(info.value, HookyardError)
    assert before == EVENT


def test_nested_request_params_render_and_keep_non_templates() -> None:
    p = planned(
        {
            "sink": "fusillade-api",
            "emit": "comparison.completed",
            "request": {
                "method": "GET",
                "path": "/api/v1/tests/{{ event.subject }}/compare/{{ vars.baselines[event.data.run.name] }}",
                "query": {"run": "{{ event.id }}"},
                "json": {"n": 3, "ok": True, "list": ["{{ event.type }}", 1.5, None]},
            },
        },
        {"baselines": {"API Load Test": "b-9"}},
    )
    assert (p.sink, p.emit, p.rule, p.action_index) == ("fusillade-api", "comparison.completed", "r", 0)
    assert render_action(p, EVENT) == {
        "request": {
            "method": "GET",
            "path": "/api/v1/tests/t-1/compare/b-9",
            "query": {"run": "evt_01"},
            "json": {"n": 3, "ok": True, "list": ["run.completed", 1.5, None]},
        }
    }


def test_nested_failure_names_the_position() -> None:
    p = planned({"sink": "bug0-api", "request": {"path": "/x", "json": {"ids": ["{{ event.data.nope }}"]}}})
    with pytest.raises(RenderError) as info:
        render_action(p, EVENT)
    assert info.value.reason == "template error in request.json.ids[0]: 'dict object' has no attribute 'nope'"


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("{{ 'failure' if event.data.metrics.error_rate > 0.01 else 'success' }}", None),
        (
            "{{ event.data.run.name }}",
            "rendered params are invalid: state: Input should be 'pending', 'success', 'failure' or 'error'",
        ),
    ],
)
def test_rendered_params_are_validated_again(state: str, reason: str | None) -> None:
    p = planned({"sink": "github", "state": state, "context": "perf"})
    if reason is None:
        assert render_action(p, EVENT) == {"state": "failure", "context": "perf"}
    else:
        with pytest.raises(RenderError) as info:
            render_action(p, EVENT)
        assert info.value.reason == reason


def test_compile_params_reports_positions() -> None:
    compiled = compile_params({"a": "{{ x }}", "b": ["plain", "{% if %}"], "c": {"d": "{{ y }}"}, "n": 1})
    assert compiled.template_paths == [("a",), ("b", 1), ("c", "d")]
    assert compiled.errors == [(("b", 1), "invalid template: Expected an expression, got 'end of statement block'")]
    assert render_value(compiled.value, {"x": 1, "y": "z"})["c"] == {"d": "z"}


def planned_yaml(action: str) -> PlannedAction:
    """Like ``planned``, from rule-file text (YAML tags such as ``!json`` survive)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "r.yaml").write_text(f"rules:\n  - name: r\n    actions:\n      - {action}\n", encoding="utf-8")
        [p] = load_rules([tmp], SINKS).plan(EVENT)
    return p


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!json '{{ event.data.run.duration_ms }}'", 65000),
        ("!json '{{ event.data.metrics.error_rate }}'", 0.012),
        ("!json '{{ event.data.metrics | tojson }}'", {"error_rate": 0.012, "p95_latency_ms": 850}),
        ("!json '{{ event.data.run.tags | tojson }}'", ["nightly"]),
        ("!json '{{ event.data.run.name | tojson }}'", "API Load Test"),
        ("!json '{{ (event.data.metrics.error_rate > 0.01) | tojson }}'", True),
        ("!json '{{ event.data.run.missing | default(none) | tojson }}'", None),
        ('!json \'{"<b>": "{{ event.subject }}"}\'', {"<b>": "t-1"}),
        ("!json '[1, \"two\", null]'", [1, "two", None]),  # not a template: parsed at load
        ("'{{ event.data.run.duration_ms }}'", "65000"),  # without the tag a template gives text
        ("'[1, 2]'", "[1, 2]"),
    ],
)
def test_json_tag_gives_typed_values(value: str, expected: Any) -> None:
    p = planned_yaml(f"{{sink: bug0-api, request: {{path: /x, json: {{v: {value}}}}}}}")
    got = render_action(p, EVENT)["request"]["json"]["v"]
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (
            "!json '{{ event.data.run.name }}'",
            "request.json.v: !json rendered 'API Load Test', which is not JSON (end with | tojson)",
        ),
        (
            "!json '{{ \"x\" * 100 }}'",
            f"request.json.v: !json rendered '{'x' * 77}...', which is not JSON (end with | tojson)",
        ),
    ],
)
def test_json_tag_text_that_is_not_json_is_a_render_error(value: str, reason: str) -> None:
    p = planned_yaml(f"{{sink: bug0-api, request: {{path: /x, json: {{v: {value}}}}}}}")
    with pytest.raises(RenderError) as info:
        render_action(p, EVENT)
    assert info.value.reason == reason


def test_json_tag_values_are_checked_against_the_sink_after_rendering() -> None:
    p = planned_yaml("{sink: github, state: !json '{{ event.data.run.duration_ms }}', context: perf}")
    with pytest.raises(RenderError) as info:
        render_action(p, EVENT)
    assert info.value.reason == (
        "rendered params are invalid: state: Input should be 'pending', 'success', 'failure' or 'error'"
    )


ESCAPED = [
    # (template, rendered where the position is escaped with "[…]" around each value)
    ("plain text", "plain text"),
    ("a {{ event.subject }} b", "a [t-1] b"),
    ("{{ event.subject }}{{ event.type }}", "[t-1][run.completed]"),
    ("{% for t in event.data.run.tags %}<{{ t }}>{% endfor %}", "<[nightly]>"),
    ("{{ event.data.metrics.p95_latency_ms }}", "[850]"),
    ("{{ event.data.run.tags | join(',') }}", "[nightly]"),
]


@pytest.mark.parametrize(("source", "expected"), ESCAPED)
def test_escapes_apply_to_interpolated_values_only_and_only_where_declared(source: str, expected: str) -> None:
    compiled = compile_params({"here": source, "there": source}).value
    out = render_value(compiled, {"event": EVENT, "vars": {}}, (), {("here",): lambda v: f"[{v}]"})
    assert out == {"here": expected, "there": render_value(compiled["there"], {"event": EVENT, "vars": {}})}
    assert "[" not in out["there"]


def test_an_undefined_value_still_fails_where_values_are_escaped() -> None:
    compiled = compile_params({"here": "{{ event.nope }}"}).value
    with pytest.raises(RenderError, match="template error in here: 'dict object' has no attribute 'nope'"):
        render_value(compiled, {"event": EVENT, "vars": {}}, (), {("here",): str.upper})
