"""Grouped actions (``group:`` on a rule action): the spec compiled at load, the group key of an
event, and what a grouped message's templates see (``group``).

A matching event of a grouped action does not make a delivery: it joins the open group of its
(rule, action, group key) in the store, in the event's own transaction. The flusher
(``receiver/delivery/grouping.py``) later renders ONE delivery per group with :class:`GroupView`
as ``group`` and the latest member as ``event``. Documented in ``docs/rules.md`` ("Grouping").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from receiver import jsonutil
from receiver.jsonutil import MISSING, dig
from receiver.rules.duration import parse_duration
from receiver.yamlfile import PathKey

DEFAULT_WAIT = 30.0
DEFAULT_INTERVAL = 300.0
DEFAULT_MAX_EVENTS = 500
GROUP_KEYS = ("by", "wait", "interval", "max_events")

_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class GroupSpec:
    """An action's ``group:``, compiled: the ``by`` paths (split), and the timeline in seconds."""

    by: tuple[str, ...] = ()
    wait: float = DEFAULT_WAIT
    interval: float = DEFAULT_INTERVAL
    max_events: int = DEFAULT_MAX_EVENTS
    parts: tuple[tuple[str, ...], ...] = ()

    def key(self, event: Mapping[str, Any]) -> str:
        """The group key of ``event``: its ``by`` values as a JSON list (null where missing)."""
        if not self.parts:
            return "[]"
        return jsonutil.dumps([_value(event, p) for p in self.parts])


def _value(event: Mapping[str, Any], parts: Sequence[str]) -> Any:
    v = dig(event, parts)
    return None if v is MISSING else v


def compile_group(raw: Any, at: PathKey, report: Callable[[PathKey, str], None]) -> GroupSpec | None:
    """The ``group:`` mapping compiled, or None after reporting every problem in it."""
    if not isinstance(raw, dict):
        report(at, "must be a mapping with by:, wait:, interval:, max_events:")
        return None
    ok = True
    for key in raw:
        if key not in GROUP_KEYS:
            report((*at, key), f"unknown key (known: {', '.join(GROUP_KEYS)})")
            ok = False
    by = raw.get("by", [])
    if isinstance(by, str):
        by = [by]
    if not isinstance(by, list) or not all(isinstance(p, str) and _PATH.match(p) for p in by):
        report((*at, "by"), "must be a list of event paths such as data.run.key")
        ok = False
        by = []
    times: dict[str, float] = {}
    for name, default in (("wait", DEFAULT_WAIT), ("interval", DEFAULT_INTERVAL)):
        value = raw.get(name)
        if value is None:
            times[name] = default
            continue
        try:
            times[name] = _seconds(value)
        except ValueError as exc:
            report((*at, name), str(exc))
            ok = False
            continue
        if times[name] < 0:
            report((*at, name), "must not be negative")
            ok = False
    cap = raw.get("max_events", DEFAULT_MAX_EVENTS)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        report((*at, "max_events"), "must be a whole number of at least 1")
        ok = False
    if not ok:
        return None
    return GroupSpec(tuple(by), times["wait"], times["interval"], cap, tuple(tuple(p.split(".")) for p in by))


def _seconds(value: Any) -> float:
    """A duration (``30s``) or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value)


class GroupView:
    """``group`` in a grouped message's templates.

    ``events``: the member envelopes, oldest first, at most ``max_events``; ``count``: every
    member (exact, also beyond the cap); ``key``: the ``by`` values (a list); ``truncated``:
    whether ``events`` holds fewer than ``count``; ``counts_by(path)``: how many members have
    each value at ``path`` (all members, most frequent first; a missing value counts as None).
    """

    def __init__(self, members: Sequence[Mapping[str, Any]], key: str, max_events: int) -> None:
        self._all = members
        self.events = list(members[:max_events])
        self.count = len(members)
        self.truncated = self.count > len(self.events)
        self.key = jsonutil.loads(key)

    def counts_by(self, path: str) -> dict[Any, int]:
        parts = path.split(".")
        counted = Counter(_hashable(_value(e, parts)) for e in self._all)
        return dict(counted.most_common())


def _hashable(value: Any) -> Any:
    return jsonutil.dumps(value) if isinstance(value, dict | list) else value
