"""Fast JSON on the hot paths: orjson, with the standard library for what orjson refuses.

orjson rejects a few inputs the standard library accepts (NaN/Infinity literals,
integers beyond 64 bits, unpaired surrogate escapes such as ``"\\ud800"``); those fall
back, so behaviour never depends on which parser ran. Errors are always the standard
library's, whose messages name line and column; nesting too deep for either parser is a
``ValueError`` too, never a ``RecursionError``.

Parsed values can hold what strict JSON and UTF-8 cannot (NaN, lone surrogates, very deep
nesting). Two walks make them safe, each saying what it changed (``path: what``):
``repair`` for what is stored (unpaired surrogates become U+FFFD, non-finite numbers and
too-deep parts are dropped), ``renderable`` for what is shown (the same values spelled
out as escaped text, so a reader sees them).

``dig`` is the one walker of dotted paths into parsed JSON: rule conditions and the mapping
adapter's fields both resolve paths with it (docs/rules.md, "Paths").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

# orjson encodes at most this many nested containers; the stored envelope must fit.
MAX_DEPTH = 254
# What a reader shows: shallow enough for the standard library's encoders (recursive) on any
# stack and for pydantic's serializer (about 255 levels, counted from the API model that holds
# the envelope two levels down); deeper parts are shown as a note.
SHOW_DEPTH = 240

_SURROGATE = re.compile("[\ud800-\udfff]")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""What ``dig`` finds where a path does not resolve (or resolves to null): unequal to every JSON value."""


def dig(value: Any, parts: Sequence[str]) -> Any:
    """The value at the path ``parts`` (a dotted path, split) in parsed JSON, or MISSING.

    The one rule for paths: a segment names a key of an object, or indexes an array when it is
    a decimal integer (negative counts from the end: ``-1`` is the last item). A path that does
    not resolve, or that resolves to null (or passes through one), is MISSING: null means the
    platform did not say.
    """
    cur = value
    for i, part in enumerate(parts):
        if type(cur) is dict:  # the hot path (rule conditions): plain dicts all the way down
            cur = cur.get(part)
            if cur is None:
                return MISSING
        else:
            return _dig_slow(cur, parts[i:])
    return cur


def _dig_slow(cur: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif isinstance(cur, list) and _is_index(part):
            try:
                cur = cur[int(part)]
            except IndexError:
                return MISSING
        else:
            return MISSING
        if cur is None:
            return MISSING
    return cur


def _is_index(part: str) -> bool:
    digits = part[1:] if part[:1] == "-" else part
    return digits.isascii() and digits.isdigit()


def dumps(obj: Any) -> str:
    """Strict JSON text (no NaN, no unpaired surrogates), whatever ``obj`` holds."""
    try:
        return orjson.dumps(obj).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. int > 64 bits, a lone surrogate, deep nesting
        return json.dumps(repair(obj)[0], allow_nan=False)


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)  # accepts NaN/huge ints; otherwise raises with its own message
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


def has_surrogates(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def _spelling(x: float) -> str:
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


class _Fix:
    """How one walk replaces what strict JSON cannot hold."""

    def __init__(
        self,
        text: Callable[[str], str],
        number: Callable[[float], Any],
        deep: Any,
        said: tuple[str, str, str],
    ) -> None:
        self.text = text
        self.number = number
        self.deep = deep
        self.said = said  # notes: (surrogate, non-finite number, too deep)


_REPAIR = _Fix(
    text=lambda s: _SURROGATE.sub("\ufffd", s),
    number=lambda x: None,
    deep=None,
    said=("unpaired surrogate replaced by U+FFFD", "{} is not JSON: dropped", "nested deeper than {} levels: dropped"),
)
_SHOW = _Fix(
    text=lambda s: s.encode("utf-8", "backslashreplace").decode("utf-8"),
    number=_spelling,
    deep="[nested deeper than this page shows]",
    said=(
        "unpaired surrogate shown escaped (\\udXXX)",
        "{} is not JSON: shown as a string",
        "nested deeper than {} levels: not shown",
    ),
)


def repair(value: Any, max_depth: int = MAX_DEPTH, path: str = "") -> tuple[Any, list[str]]:
    """``value`` made storable as strict JSON in UTF-8, and a note per change."""
    notes: list[str] = []
    return _walk(value, _REPAIR, path, 1, max_depth, notes), notes


def renderable(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """``value`` made showable as strict JSON in UTF-8, with what cannot be shown spelled out as text."""
    notes: list[str] = []
    return _walk(value, _SHOW, path, 1, SHOW_DEPTH, notes), notes


def with_notes(doc: dict[str, Any]) -> dict[str, Any]:
    """A document for a reader (API, CLI): ``renderable``, plus ``render_notes`` when something was escaped."""
    shown, notes = renderable(doc)
    if notes:
        shown["render_notes"] = notes
    return shown


def show(doc: dict[str, Any], **kwargs: Any) -> str:
    """``with_notes(doc)`` as JSON text (``kwargs`` go to ``json.dumps``)."""
    return json.dumps(with_notes(doc), allow_nan=False, **kwargs)


def pretty(value: Any) -> str:
    """Indented JSON for a page; notes about escaped values follow it."""
    shown, notes = renderable(value)
    text = json.dumps(shown, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    return text + "".join(f"\n// {note}" for note in notes)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _walk(value: Any, fix: _Fix, path: str, depth: int, max_depth: int, notes: list[str]) -> Any:
    cls = value.__class__
    if cls is str:
        if has_surrogates(value):
            notes.append(f"{path or '(value)'}: {fix.said[0]}")
            return fix.text(value)
        return value
    if cls is float:
        if math.isfinite(value):
            return value
        notes.append(f"{path or '(value)'}: {fix.said[1].format(_spelling(value))}")
        return fix.number(value)
    if isinstance(value, dict | list | tuple):
        if depth > max_depth:
            notes.append(f"{path or '(value)'}: {fix.said[2].format(max_depth)}")
            return fix.deep
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                shown_key = key
                if isinstance(key, str) and has_surrogates(key):
                    notes.append(f"{_join(path, fix.text(key))}: key: {fix.said[0]}")
                    shown_key = fix.text(key)
                out[shown_key] = _walk(item, fix, _join(path, shown_key), depth + 1, max_depth, notes)
            return out
        return [_walk(item, fix, _join(path, i), depth + 1, max_depth, notes) for i, item in enumerate(value)]
    return value
