"""The normalize: block model: validation errors a user sees, and merging over presets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.sources.mapping import MappingOptions, merge


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"typo": "event"}, "Extra inputs are not permitted"),
        ({"data.run.colour": "x"}, "data.run.colour: unknown key"),
        ({"data.weather.temp": "x"}, "data.weather: unknown section"),
        ({"data.run": "x"}, "write data keys as data.<section>.<key>"),
        ({"data": {"run.id.x": "x"}}, "data.run.id.x: write data keys as data.<section>.<key>"),
        ({"data": {"run": "x"}}, "data.run: must be a mapping of keys to rules"),
        ({"data": ["run"]}, "data: must be a mapping of sections"),
        ({"type": {"path": "a", "value": "b"}}, "give exactly one of path, template or value"),
        ({"type": {"map": {"a": "b"}}}, "give exactly one of path, template or value"),
        ({"type": "{{ payload.x "}, "template syntax error"),
        ({"type": {"path": ""}}, "path must not be empty"),
        ({"type": {"path": "a", "mapping": {}}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_blocks_are_config_errors(block: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        MappingOptions.model_validate(block)
    assert message in str(info.value)


def test_shorthands() -> None:
    block = MappingOptions.model_validate(
        {
            "type": "event",
            "subject": ["a", "b"],
            "time": "{{ payload.t }}",
            "platform_event": {"value": None},
            "data.run.id": {"path": "x", "map": {"1": "one"}, "default": None},
        }
    )
    assert block.type is not None and block.type.path == ["event"]
    assert block.subject is not None and block.subject.path == ["a", "b"]
    assert block.time is not None and block.time.template == "{{ payload.t }}"
    assert block.platform_event is not None and "value" in block.platform_event.model_fields_set
    rule = block.data["run"]["id"]
    assert rule.path == ["x"] and rule.map == {"1": "one"} and rule.has_default


@pytest.mark.parametrize(
    "block",
    [
        {"data.run.id": "x", "data.run.name": "y"},
        {"data": {"run": {"id": "x", "name": "y"}}},
        {"data": {"run.id": "x", "run.name": "y"}},
        {"data": {"run": {"id": "x"}, "run.name": "y"}},
        {"data": {"run": {"id": "x"}}, "data.run.name": "y"},
    ],
    ids=["flat", "nested", "half", "mixed", "flat-and-nested"],
)
def test_data_keys_in_every_spelling(block: dict[str, Any]) -> None:
    data = MappingOptions.model_validate(block).data
    assert {s: {k: r.path for k, r in keys.items()} for s, keys in data.items()} == {
        "run": {"id": ["x"], "name": ["y"]}
    }


def test_merge_overrides_key_by_key() -> None:
    preset = MappingOptions.model_validate(
        {"unwrap": ["run"], "type": "status", "subject": "id", "data.run.id": "id", "data.run.name": "name"}
    )
    own = MappingOptions.model_validate({"subject": "runId", "data.run.name": "title", "data.git.sha": "sha"})
    merged = merge(preset, own)
    assert merged.unwrap == ["run"]
    assert merged.type is not None and merged.type.path == ["status"]
    assert merged.subject is not None and merged.subject.path == ["runId"]
    assert {k: r.path for k, r in merged.data["run"].items()} == {"id": ["id"], "name": ["title"]}
    assert merged.data["git"]["sha"].path == ["sha"]
    assert preset.data["run"]["name"].path == ["name"]  # the preset itself is untouched
    assert merge(preset, None) is preset


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": {"value": "Run Completed"}}, "'Run Completed' is not a valid event type"),
        (
            {"type": {"path": "e", "map": {"a": "run.completed", "b": "BAD"}}},
            "'BAD' is not a valid event type",
        ),
        ({"type": {"path": "e", "default": "x y"}}, "'x y' is not a valid event type"),
        ({"data.run.outcome": {"path": "s", "map": {"ok": "green"}}}, "'green' is not an outcome"),
        ({"data.test.outcome": {"value": "fine"}}, "'fine' is not an outcome"),
    ],
)
def test_literal_targets_are_checked_at_load(block: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        MappingOptions.model_validate(block)
    assert message in str(info.value)


def test_literal_targets_that_are_fine() -> None:
    MappingOptions.model_validate(
        {"type": {"path": "e", "map": {"a": "run.completed", "b": None}}, "data.run.outcome": {"value": None}}
    )
