"""Match conditions of rules: compiled once at load, evaluated purely per event.

A condition tests one dotted path of the envelope (``data.metrics.error_rate``) with one
or more operators, or combines conditions (``any``, ``all``, ``not``). Each condition
answers ``holds(event)`` quickly and ``why_not(event)`` in words, for ``explain``.
Semantics (documented in ``docs/rules.md``):

- a path that does not resolve, or resolves to null, is *missing*; only ``exists: false``,
  ``ne``, ``not_in`` and ``not`` can hold for a missing value;
- comparing values of incompatible types (a string with a number, a boolean with a
  number) is simply false, never an error;
- for the envelope attributes ``source``, ``type``, ``subject``, ``platform`` and
  ``platform_event`` a bare string is a glob and a list is any-of globs; for every other
  path a bare scalar means equality and a list means ``in``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from receiver.rules.operators import (
    COMPARE,
    GLOB_CHARS,
    MISSING,
    OPERATORS,
    AnyOfGlobs,
    Compare,
    Contains,
    Eq,
    Exists,
    Glob,
    In,
    Ne,
    NotIn,
    Regex,
    Test,
    fmt,
    hash_key,
    is_number,
    resolve,
)
from receiver.rules.regex import RegexError
from receiver.yamlfile import PathKey

ATTRIBUTES = frozenset({"source", "type", "subject", "platform", "platform_event"})
ROOTS = frozenset(
    {
        *ATTRIBUTES,
        "specversion",
        "id",
        "time",
        "datacontenttype",
        "received_at",
        "correlation_id",
        "parent_id",
        "normalize_error",
        "data",
        "raw",
    }
)
COMBINATORS = frozenset({"any", "all", "not"})

Report = Callable[[PathKey, str], None]


# --- conditions -----------------------------------------------------------------------------


class Cond:
    label = ""
    cost = 1

    def holds(self, event: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def why_not(self, event: Mapping[str, Any]) -> str | None:
        """None when the condition holds, else the reason it does not."""
        raise NotImplementedError

    def seen(self, event: Mapping[str, Any]) -> str:
        return self.label


class PathCond(Cond):
    """All ``tests`` hold for the value at one dotted path."""

    def __init__(self, path: str, tests: list[Test]) -> None:
        self.label = path
        self.parts = tuple(path.split("."))
        self.tests = tests
        self.missing_ok = all(t.missing_ok for t in tests)
        self.cost = max(t.cost for t in tests)
        self._single = tests[0].check if len(tests) == 1 else None

    def holds(self, event: Mapping[str, Any]) -> bool:
        v = resolve(event, self.parts)
        if v is MISSING:
            return self.missing_ok
        if self._single is not None:
            return self._single(v)
        for t in self.tests:  # noqa: SIM110 - a plain loop is measurably faster on this hot path
            if not t.check(v):
                return False
        return True

    def why_not(self, event: Mapping[str, Any]) -> str | None:
        v = resolve(event, self.parts)
        if v is MISSING:
            return None if self.missing_ok else f"{self.label}: missing"
        for t in self.tests:
            if not t.check(v):
                return f"{self.label}: {t.fail(v)}"
        return None

    def seen(self, event: Mapping[str, Any]) -> str:
        return f"{self.label} = {fmt(resolve(event, self.parts))}"

    def keys(self) -> frozenset[Any] | None:
        """The hash keys (``hash_key``) of every value this condition accepts, when it is a
        single literal equality or ``in`` (so a dict lookup can decide it); else None."""
        if len(self.tests) != 1:
            return None
        t = self.tests[0]
        if type(t) is Eq:
            key = hash_key(t.x)
            return None if key is None else frozenset({key})
        if type(t) is AnyOfGlobs and not t.globs:
            t = t.literals
        if type(t) is In and not t.others:
            return t.keys
        return None

    def literals(self) -> frozenset[str] | None:
        """The exact strings this condition accepts, if it is a plain literal (for indexing)."""
        keys = self.keys()
        return keys if keys is not None and all(isinstance(k, str) for k in keys) else None


class AllCond(Cond):
    def __init__(self, parts: list[Cond], label: str = "all") -> None:
        self.label = label
        self.parts = parts
        self.cost = 4 + sum(p.cost for p in parts)

    def holds(self, event: Mapping[str, Any]) -> bool:
        return all(p.holds(event) for p in self.parts)

    def why_not(self, event: Mapping[str, Any]) -> str | None:
        for p in self.parts:
            reason = p.why_not(event)
            if reason is not None:
                return reason if self.label == "" else f"{self.label}: {reason}"
        return None

    def seen(self, event: Mapping[str, Any]) -> str:
        return ", ".join(p.seen(event) for p in self.parts)


class AnyCond(AllCond):
    def __init__(self, parts: list[Cond]) -> None:
        super().__init__(parts, "any")

    def holds(self, event: Mapping[str, Any]) -> bool:
        return any(p.holds(event) for p in self.parts)

    def why_not(self, event: Mapping[str, Any]) -> str | None:
        reasons = []
        for p in self.parts:
            reason = p.why_not(event)
            if reason is None:
                return None
            reasons.append(reason)
        return f"any: no alternative held ({'; '.join(reasons)})"


class NotCond(AllCond):
    def __init__(self, parts: list[Cond]) -> None:
        super().__init__(parts, "not")

    def holds(self, event: Mapping[str, Any]) -> bool:
        return not all(p.holds(event) for p in self.parts)

    def why_not(self, event: Mapping[str, Any]) -> str | None:
        if any(p.why_not(event) is not None for p in self.parts):
            return None
        return f"not: its conditions held ({'; '.join(p.seen(event) for p in self.parts)})"


# --- compiling ------------------------------------------------------------------------------

_NULL = "null is not a value to compare with; use {exists: false}"


def compile_group(mapping: Mapping[str, Any], at: PathKey, report: Report) -> list[Cond]:
    """Each entry of a mapping is one condition; all must hold."""
    conds = []
    for key, spec in mapping.items():
        here = (*at, key)
        cond = _combinator(key, spec, here, report) if key in COMBINATORS else _path(key, spec, here, report)
        if cond is not None:
            conds.append(cond)
    return conds


def _combinator(name: str, spec: Any, at: PathKey, report: Report) -> Cond | None:
    parts: list[Cond] = []
    if isinstance(spec, dict) and spec:
        parts = compile_group(spec, at, report)
    elif isinstance(spec, list) and spec:
        for i, item in enumerate(spec):
            if not isinstance(item, dict) or not item:
                report((*at, i), "must be a mapping of conditions")
                continue
            group = compile_group(item, (*at, i), report)
            parts.append(group[0] if len(group) == 1 else AllCond(group, ""))
    else:
        report(at, f"{name} needs a list or a mapping of conditions")
        return None
    if name == "any":
        return AnyCond(parts)
    return NotCond(parts) if name == "not" else AllCond(parts)


def _path(key: str, spec: Any, at: PathKey, report: Report) -> Cond | None:
    parts = key.split(".")
    if parts[0] not in ROOTS or "" in parts:
        report(at, "unknown key (a path starts with an envelope attribute: type, source, data, …)")
        return None
    attribute = len(parts) == 1 and key in ATTRIBUTES
    tests: list[Test | None]
    if spec is None:
        report(at, _NULL)
        return None
    if isinstance(spec, dict):
        if not spec:
            report(at, "empty condition")
            return None
        tests = [_operator(op, x, (*at, op), report) for op, x in spec.items()]
    elif isinstance(spec, list):
        if not _values(spec, at, report):
            return None
        tests = [AnyOfGlobs(spec) if attribute else In(spec)]
    elif attribute and isinstance(spec, str) and GLOB_CHARS.search(spec):
        tests = [_glob(spec, at, report)]
    else:
        tests = [Eq(spec)]
    if any(t is None for t in tests):
        return None
    return PathCond(key, [t for t in tests if t is not None])


def _values(items: Any, at: PathKey, report: Report) -> bool:
    if not isinstance(items, list) or not items:
        report(at, "needs a non-empty list of values")
        return False
    ok = True
    for i, item in enumerate(items):
        if item is None:
            report((*at, i), _NULL)
            ok = False
    return ok


def _glob(pattern: str, at: PathKey, report: Report) -> Test | None:
    try:
        return Glob(pattern)
    except re.error as exc:
        report(at, f"invalid glob: {exc}")
        return None


def _operator(op: str, x: Any, at: PathKey, report: Report) -> Test | None:
    if op not in OPERATORS:
        report(at, f"unknown operator (known: {', '.join(OPERATORS)})")
        return None
    if x is None:
        report(at, _NULL)
        return None
    if op in ("eq", "ne"):
        return Eq(x) if op == "eq" else Ne(x)
    if op in ("in", "not_in"):
        if not _values(x, at, report):
            return None
        return In(x) if op == "in" else NotIn(x)
    if op in ("regex", "glob"):
        if not isinstance(x, str):
            report(at, f"{op} needs a string")
            return None
        if op == "glob":
            return _glob(x, at, report)
        try:
            return Regex(x)
        except RegexError as exc:
            report(at, f"invalid regex: {exc}")
            return None
    if op in COMPARE:
        if not (is_number(x) or isinstance(x, str)):
            report(at, f"{op} needs a number or a string")
            return None
        return Compare(op, x)
    if op == "exists":
        if not isinstance(x, bool):
            report(at, "exists needs true or false")
            return None
        return Exists(x)
    if not isinstance(x, str | int | float):  # contains
        report(at, "contains needs a string, a number or a boolean")
        return None
    return Contains(x)
