"""Values and operators of rule conditions: how one operator tests one value.

The rules for values are the same everywhere: a missing path (or null) is ``MISSING``;
values of incompatible kinds (string vs number, boolean vs number) never compare equal,
less or greater; each operator says in words why it failed, for ``RuleSet.explain``.
"""

from __future__ import annotations

import fnmatch
import json
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from receiver.jsonutil import MISSING, dig
from receiver.rules.regex import compile_regex

OPERATORS = ("eq", "ne", "in", "not_in", "regex", "glob", "gt", "gte", "lt", "lte", "exists", "contains")
GLOB_CHARS = re.compile(r"[*?\[]")


# Paths resolve by the one rule of ``jsonutil.dig`` (negative indexes, null is missing).
resolve = dig


def fmt(value: Any, limit: int = 80) -> str:
    """A value as it appears in explanations: JSON, shortened."""
    if value is MISSING:
        return "missing"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float or isinstance(v, int | float)) and not isinstance(v, bool)


def kind(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if is_number(v):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, Mapping):
        return "mapping"
    return type(v).__name__


def same(a: Any, b: Any) -> bool:
    """Equality without Python's cross-type surprises (``True == 1``, ``1 == 1.0`` is fine)."""
    if type(a) is type(b):
        return bool(a == b)
    return is_number(a) and is_number(b) and a == b


def hash_key(v: Any) -> Any:
    """A hashable key that keeps kinds apart, or None for values compared one by one."""
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return ("b", v)
    if t is int or t is float:
        return ("n", v)
    return None


# --- operators ------------------------------------------------------------------------------


class Test:
    """One operator applied to a present value. ``missing_ok``: holds when the value is missing."""

    op = ""
    missing_ok = False
    cost = 1

    def check(self, v: Any) -> bool:
        raise NotImplementedError

    def fail(self, v: Any) -> str:
        raise NotImplementedError


class Eq(Test):
    op = "eq"

    def __init__(self, x: Any) -> None:
        self.x = x

    def check(self, v: Any) -> bool:
        return same(v, self.x)

    def fail(self, v: Any) -> str:
        return f"{fmt(v)} is not {fmt(self.x)}"


class Ne(Eq):
    op = "ne"
    missing_ok = True

    def check(self, v: Any) -> bool:
        return not same(v, self.x)

    def fail(self, v: Any) -> str:
        return f"{fmt(v)} equals {fmt(self.x)}"


class In(Test):
    op = "in"

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.keys = frozenset(k for k in map(hash_key, items) if k is not None)
        self.others = [i for i in items if hash_key(i) is None]

    def check(self, v: Any) -> bool:
        k = hash_key(v)
        if k is not None and k in self.keys:
            return True
        return any(same(v, o) for o in self.others)

    def fail(self, v: Any) -> str:
        return f"{fmt(v)} is not in {fmt(self.items)}"


class NotIn(In):
    op = "not_in"
    missing_ok = True

    def check(self, v: Any) -> bool:
        return not super().check(v)

    def fail(self, v: Any) -> str:
        return f"{fmt(v)} is in {fmt(self.items)}"


class Regex(Test):
    op = "regex"
    cost = 3

    def __init__(self, pattern: str) -> None:
        self.source = pattern
        self.pattern = compile_regex(pattern)  # RE2: linear time on attacker-controlled text

    def check(self, v: Any) -> bool:
        return type(v) is str and self.pattern.search(v) is not None

    def fail(self, v: Any) -> str:
        suffix = "" if isinstance(v, str) else f" (a {kind(v)}, not a string)"
        return f"{fmt(v)} does not match {self.op} {fmt(self.source)}{suffix}"


class Glob(Regex):
    op = "glob"

    def __init__(self, pattern: str) -> None:
        self.source = pattern
        self.pattern = re.compile(fnmatch.translate(pattern))

    def check(self, v: Any) -> bool:
        return type(v) is str and self.pattern.match(v) is not None


class AnyOfGlobs(Test):
    """The list form on an envelope attribute: any of these globs (or literal values)."""

    op = "any-of"
    cost = 2

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.literals = In([i for i in items if not (isinstance(i, str) and GLOB_CHARS.search(i))])
        self.globs = [Glob(i) for i in items if isinstance(i, str) and GLOB_CHARS.search(i)]

    def check(self, v: Any) -> bool:
        return self.literals.check(v) or any(g.check(v) for g in self.globs)

    def fail(self, v: Any) -> str:
        return f"{fmt(v)} matches none of {fmt(self.items)}"


COMPARE: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "gt": (">", operator.gt),
    "gte": (">=", operator.ge),
    "lt": ("<", operator.lt),
    "lte": ("<=", operator.le),
}


class Compare(Test):
    def __init__(self, op: str, x: Any) -> None:
        self.op = op
        self.x = x
        self.symbol, self.fn = COMPARE[op]
        self.numeric = is_number(x)

    def check(self, v: Any) -> bool:
        if self.numeric:
            return is_number(v) and self.fn(v, self.x)
        return type(v) is str and self.fn(v, self.x)

    def fail(self, v: Any) -> str:
        text = f"{fmt(v)} is not {self.symbol} {fmt(self.x)}"
        if kind(v) != kind(self.x):
            text += f" (cannot compare a {kind(v)} with a {kind(self.x)})"
        return text


class Exists(Test):
    op = "exists"

    def __init__(self, want: bool) -> None:
        self.want = want
        self.missing_ok = not want

    def check(self, v: Any) -> bool:
        return self.want

    def fail(self, v: Any) -> str:
        return f"{fmt(v)} exists"


class Contains(Test):
    op = "contains"
    cost = 2

    def __init__(self, x: Any) -> None:
        self.x = x

    def check(self, v: Any) -> bool:
        if isinstance(v, str):
            return isinstance(self.x, str) and self.x in v
        if isinstance(v, list):
            return any(same(i, self.x) for i in v)
        if isinstance(v, Mapping):
            return isinstance(self.x, str) and self.x in v
        return False

    def fail(self, v: Any) -> str:
        return f"{fmt(v)} does not contain {fmt(self.x)}"
