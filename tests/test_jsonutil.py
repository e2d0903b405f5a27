"""receiver.jsonutil: parse anything a verified body holds, store strict JSON, render every stored value."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from receiver import jsonutil


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def depth_of(value: Any) -> int:
    d = 0
    while isinstance(value, list) and value:
        value, d = value[0], d + 1
    return d


def strict(text: str) -> Any:
    """Parse as strict JSON: NaN/Infinity refused, and the text must be UTF-8 encodable."""
    text.encode("utf-8")

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in strict JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('{"a": NaN}', "nan"),  # orjson refuses; the standard library accepts
        ('"\\ud800x"', "\ud800x"),
    ],
)
def test_loads_falls_back_to_the_standard_library(text: str, expected: Any) -> None:
    got = jsonutil.loads(text)
    if expected == "nan":
        assert math.isnan(got["a"])
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("9" * 5000, "4300"),  # Python's integer-string conversion limit
        ("{", "Expecting"),
    ],
)
def test_loads_raises_value_errors_only(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jsonutil.loads(text)


@pytest.mark.parametrize(
    ("value", "stored", "note"),
    [
        ({"a": float("nan")}, {"a": None}, "a: NaN is not JSON: dropped"),
        ({"a": [1, float("-inf")]}, {"a": [1, None]}, "a.1: -Infinity is not JSON: dropped"),
        ({"s": "x\ud800y"}, {"s": "x\ufffdy"}, "s: unpaired surrogate replaced by U+FFFD"),
        ({"k\udfff": 1}, {"k\ufffd": 1}, "k\ufffd: key: unpaired surrogate replaced by U+FFFD"),
        ({"big": 10**100}, {"big": 10**100}, None),
        ({"ok": "😀"}, {"ok": "😀"}, None),
    ],
)
def test_repair_and_dumps_store_strict_json(value: Any, stored: Any, note: str | None) -> None:
    repaired, notes = jsonutil.repair(value)
    assert repaired == stored
    assert notes == ([note] if note else [])
    assert strict(jsonutil.dumps(value)) == stored


def test_repair_drops_what_is_nested_deeper_than_the_encoder_goes() -> None:
    deep = {"d": nested(400)}
    repaired, notes = jsonutil.repair(deep)
    assert depth_of(repaired["d"]) == jsonutil.MAX_DEPTH - 1
    path = "d" + ".0" * (jsonutil.MAX_DEPTH - 1)
    assert notes == [f"{path}: nested deeper than {jsonutil.MAX_DEPTH} levels: dropped"]
    assert strict(jsonutil.dumps(deep)) == repaired


@pytest.mark.parametrize(
    ("value", "shown", "note"),
    [
        ({"a": float("nan")}, {"a": "NaN"}, "a: NaN is not JSON: shown as a string"),
        ({"a": float("inf")}, {"a": "Infinity"}, "a: Infinity is not JSON: shown as a string"),
        ({"s": "x\ud800"}, {"s": "x\\ud800"}, "s: unpaired surrogate shown escaped (\\udXXX)"),
        ({"fine": [1, "é", None]}, {"fine": [1, "é", None]}, None),
    ],
)
def test_renderable_spells_out_what_json_cannot_hold(value: Any, shown: Any, note: str | None) -> None:
    got, notes = jsonutil.renderable(value)
    assert got == shown
    assert notes == ([note] if note else [])
    doc = jsonutil.with_notes(value)
    assert strict(json.dumps(doc, ensure_ascii=False, allow_nan=False))["render_notes" if note else "fine"]
    text = jsonutil.pretty(value)
    text.encode("utf-8")
    if note:
        assert text.endswith(f"// {note}")


def test_renderable_cuts_deep_values_with_a_note() -> None:
    got, notes = jsonutil.renderable({"raw": nested(900)})
    assert depth_of(got["raw"]) == jsonutil.SHOW_DEPTH - 1
    assert len(notes) == 1 and notes[0].endswith(f"nested deeper than {jsonutil.SHOW_DEPTH} levels: not shown")
    strict(jsonutil.pretty({"raw": nested(900)}).split("\n//")[0])


DOC: dict[str, Any] = {
    "a": {"b": 1, "none": None, "zero": 0, "false": False, "empty": ""},
    "items": [{"id": "first"}, {"id": "second"}, None],
    "n": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.b", 1),
        ("a", DOC["a"]),
        ("a.zero", 0),  # falsy values are values
        ("a.false", False),
        ("a.empty", ""),
        ("a.none", jsonutil.MISSING),  # null is missing: the platform did not say
        ("n", jsonutil.MISSING),
        ("n.x", jsonutil.MISSING),  # through a null
        ("a.nope", jsonutil.MISSING),
        ("a.b.c", jsonutil.MISSING),  # into a number
        ("items.0.id", "first"),
        ("items.1.id", "second"),
        ("items.-2.id", "second"),  # negative counts from the end
        ("items.-1", jsonutil.MISSING),  # the last item is null
        ("items.3.id", jsonutil.MISSING),
        ("items.-4.id", jsonutil.MISSING),
        ("items.x", jsonutil.MISSING),
        ("items.1.5", jsonutil.MISSING),
        ("items.+1.id", jsonutil.MISSING),  # only plain decimal integers index
        ("items.\u0660.id", jsonutil.MISSING),  # ... in ASCII digits (an Arabic-Indic zero is no index)
        ("items. 1.id", jsonutil.MISSING),
    ],
)
def test_dig_resolves_paths_by_one_rule(path: str, expected: Any) -> None:
    found = jsonutil.dig(DOC, path.split("."))
    if expected is jsonutil.MISSING:
        assert found is jsonutil.MISSING
    else:
        assert (found, type(found)) == (expected, type(expected))  # 0 is not False


def test_dig_reads_mappings_that_are_not_dicts() -> None:
    from types import MappingProxyType

    doc = MappingProxyType({"a": MappingProxyType({"b": [1, 2]})})
    assert (jsonutil.dig(doc, ["a", "b", "-1"]), jsonutil.dig(doc, ["a", "c"])) == (2, jsonutil.MISSING)
