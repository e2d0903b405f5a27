"""Silence matchers: ``path=value``, ``path!=value``, ``path=~regex``, ``path!~regex``.

Alertmanager-like, over the event envelope instead of labels: ``path`` is a dotted envelope
path as in rule conditions (``source``, ``type``, ``data.run.name``). ``=`` is equality, or a
glob when the value holds ``*`` or ``?``; ``=~`` is an RE2 regex matching the whole value. The
value found is compared as text (a number as its JSON spelling); a missing path is the empty
string, so ``data.x!=y`` holds for an event without ``data.x`` (as a missing label does in
Alertmanager). Compiled once (``parse_matcher``); a silence holds when all its matchers do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from receiver import jsonutil
from receiver.rules.conditions import ROOTS
from receiver.rules.operators import GLOB_CHARS, Glob
from receiver.rules.regex import RegexError, compile_regex

_MATCHER = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(!=|=~|!~|=)(.*)$", re.S)
OPERATORS = ("=", "!=", "=~", "!~")


class MatcherError(ValueError):
    """A matcher that cannot be used; the message says why (and quotes it)."""


@dataclass(frozen=True)
class Matcher:
    path: str
    op: str
    value: str
    _parts: tuple[str, ...]
    _test: Any  # an object with search(text) (regex) or check(text) (glob), or None (equality)

    def __str__(self) -> str:
        return f"{self.path}{self.op}{self.value}"

    def holds(self, envelope: Mapping[str, Any]) -> bool:
        found = jsonutil.dig(envelope, self._parts)
        text = "" if found is jsonutil.MISSING else found if isinstance(found, str) else jsonutil.dumps(found)
        if self.op in ("=~", "!~"):
            hit = self._test.search(text) is not None
        elif self._test is not None:
            hit = self._test.check(text)
        else:
            hit = text == self.value
        return hit if self.op in ("=", "=~") else not hit


def parse_matcher(text: str) -> Matcher:
    """One matcher compiled; MatcherError for anything else."""
    m = _MATCHER.match(text) if isinstance(text, str) else None
    if m is None:
        raise MatcherError(f"{text!r} is not a matcher like source=fusillade, data.run.name=Nightly* or type=~run\\..*")
    path, op, value = m.group(1), m.group(2), m.group(3).strip()
    parts = tuple(path.split("."))
    if parts[0] not in ROOTS or "" in parts:
        raise MatcherError(f"{text!r}: {path!r} is not an envelope path (source, type, subject, data.…)")
    test: Any = None
    if op in ("=~", "!~"):
        try:
            compile_regex(value)  # its errors speak of the pattern as written
            test = compile_regex(f"^(?:{value})$")
        except RegexError as exc:
            raise MatcherError(f"{text!r}: invalid regex: {exc}") from None
    elif GLOB_CHARS.search(value):
        test = Glob(value)
    return Matcher(path, op, value, parts, test)


def parse_matchers(texts: Sequence[str]) -> list[Matcher]:
    """Every matcher of a silence (at least one); MatcherError names each bad one, all at once."""
    if not texts:
        raise MatcherError("a silence needs at least one matcher")
    out, problems = [], []
    for text in texts:
        try:
            out.append(parse_matcher(text))
        except MatcherError as exc:
            problems.append(str(exc))
    if problems:
        raise MatcherError("; ".join(problems))
    return out


def all_hold(matchers: Sequence[Matcher], envelope: Mapping[str, Any]) -> bool:
    return all(m.holds(envelope) for m in matchers)


# The event fields "silence events like this" offers, in this order, when the event has them: what
# names the kind of event (not the one run: its subject and run key would silence only that run).
SUGGESTED_PATHS = ("source", "type", "data.run.name", "data.run.project")


def suggest(envelope: Mapping[str, Any]) -> list[str]:
    """Equality matchers for an event's identifying fields (the page's "silence events like this")."""
    out = []
    for path in SUGGESTED_PATHS:
        found = jsonutil.dig(envelope, path.split("."))
        if isinstance(found, str) and found and not GLOB_CHARS.search(found):
            out.append(f"{path}={found}")
    return out
