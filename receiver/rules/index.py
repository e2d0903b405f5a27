"""Finding the few rules worth looking at for an event, in file order.

Conditions on ``type``, ``source`` and ``platform`` depend only on those three values, and
real traffic has few distinct combinations of them: they are decided once per combination
(rules with literal ``type``/``source`` values are found through a dict, so even that first
decision skips most rules) and the answer is cached. Of the remaining conditions, one
literal equality or ``in`` on another path per rule (``data.run.status: [failed, error]``)
becomes a *gate*: one dict lookup per distinct path and event decides all gated rules at
once. Only what is left is evaluated rule by rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from receiver.rules.conditions import Cond, PathCond
from receiver.rules.model import Rule
from receiver.rules.operators import MISSING, hash_key, resolve

ATTRS = ("type", "source", "platform")
_CACHE_LIMIT = 4096
_Check = Callable[[Mapping[str, Any]], bool]


class _Entry:
    """A rule split for the fast path: head (attribute conditions), gate, the rest."""

    __slots__ = ("check", "gate", "head", "pos", "rule")

    def __init__(self, pos: int, rule: Rule) -> None:
        self.pos = pos
        self.rule = rule
        conds = list(rule.conditions)
        self.head = [c for c in conds if isinstance(c, PathCond) and c.label in ATTRS]
        rest = [c for c in conds if c not in self.head]
        self.gate = next((c for c in rest if isinstance(c, PathCond) and c.keys() is not None), None)
        self.check = _all([c for c in rest if c is not self.gate])


def _all(conds: list[Cond]) -> _Check | None:
    """One callable for the remaining conditions, cheapest first (None: nothing left)."""
    if not conds:
        return None
    holds = tuple(c.holds for c in sorted(conds, key=lambda c: c.cost))
    if len(holds) == 1:
        return holds[0]

    def check(event: Mapping[str, Any]) -> bool:
        for h in holds:  # noqa: SIM110 - a plain loop is measurably faster on this hot path
            if not h(event):
                return False
        return True

    return check


class RuleIndex:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self._entries = [_Entry(i, r) for i, r in enumerate(rules)]
        self._literal: dict[str, dict[str, list[int]]] = {"type": {}, "source": {}}
        self._unindexed: list[int] = []
        self._gates: dict[tuple[str, ...], dict[Any, set[int]]] = {}
        self._cache: dict[tuple[Any, ...], tuple[tuple[_Entry, ...], tuple[tuple[str, ...], ...]]] = {}
        for e in self._entries:
            self._add(e)

    def _add(self, e: _Entry) -> None:
        if e.gate is not None:
            table = self._gates.setdefault(e.gate.parts, {})
            for key in e.gate.keys() or ():
                table.setdefault(key, set()).add(e.pos)
        for attr, index in self._literal.items():
            for cond in e.head:
                lits = cond.literals() if cond.label == attr else None
                if lits is not None:
                    for lit in lits:
                        index.setdefault(lit, []).append(e.pos)
                    return
        self._unindexed.append(e.pos)

    def _decide_attributes(self, key: tuple[Any, ...]) -> tuple[tuple[_Entry, ...], tuple[tuple[str, ...], ...]]:
        """The rules whose attribute conditions hold for (type, source, platform), in order."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        t, s, _ = key
        positions = set(self._unindexed)
        positions.update(self._literal["type"].get(t, ()) if isinstance(t, str) else ())
        positions.update(self._literal["source"].get(s, ()) if isinstance(s, str) else ())
        probe = dict(zip(ATTRS, key, strict=True))
        found = tuple(e for e in (self._entries[i] for i in sorted(positions)) if all(c.holds(probe) for c in e.head))
        gates = tuple(dict.fromkeys(e.gate.parts for e in found if e.gate is not None))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (found, gates)
        return found, gates

    def candidates(self, event: Mapping[str, Any]) -> Iterator[Rule]:
        """The rules whose match conditions hold (``when:`` is not checked here), in order."""
        key = (event.get("type"), event.get("source"), event.get("platform"))
        try:
            entries, gates = self._decide_attributes(key)
        except TypeError:  # an unhashable attribute value: no caching, no shortcuts
            yield from (e.rule for e in self._entries if all(c.holds(event) for c in e.rule.conditions))
            return
        passed: set[int] = set()
        for parts in gates:
            v = resolve(event, parts)
            k = hash_key(v) if v is not MISSING else None
            if k is not None:
                passed.update(self._gates[parts].get(k, ()))
        for e in entries:
            if e.gate is not None and e.pos not in passed:
                continue
            if e.check is None or e.check(event):
                yield e.rule
