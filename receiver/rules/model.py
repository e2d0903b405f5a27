"""The compiled rule: a rule, its actions, and an action planned for an event.

Plain data shared by the rules stage: ``rules`` builds them at load, ``rules_index`` files
them for fast lookup, ``render`` renders a planned action's parameters. Kept apart from
``rules`` (which imports both of those) so that neither has to import it back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Undefined
from pydantic import BaseModel

from receiver.rules.conditions import Cond
from receiver.rules.group import GroupSpec
from receiver.rules.mutetime import MuteTime


@dataclass(frozen=True)
class ActionSpec:
    """One action of a rule: the sink it goes to, its parameters as written, compiled."""

    sink: str
    emit: str | None
    params: Mapping[str, Any]
    line: int | None
    model: type[BaseModel] = field(repr=False, compare=False)
    compiled: Any = field(repr=False, compare=False)
    vars: Mapping[str, Any] = field(repr=False, compare=False)
    group: GroupSpec | None = None  # ``group:``: matching events join a group, sent once (rules/group.py)
    # Noise control (mutetime.py): seconds within which the same content is not sent again, and
    # the times in which deliveries are silenced. Decided when sending (the dispatcher).
    repeat_interval: float | None = None
    mute_time: MuteTime | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PlannedAction:
    rule: str
    action_index: int
    sink: str
    emit: str | None
    action: ActionSpec


@dataclass(frozen=True)
class Rule:
    name: str
    description: str | None
    file: str
    line: int | None
    stop: bool
    actions: tuple[ActionSpec, ...]
    vars: Mapping[str, Any] = field(repr=False)
    when: str | None = None
    conditions: tuple[Cond, ...] = field(default=(), repr=False, compare=False)
    when_fn: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    planned: tuple[PlannedAction, ...] = field(default=(), repr=False, compare=False)

    def passes_when(self, event: Mapping[str, Any]) -> str | None:
        """None when there is no ``when:`` or it is true; else why the rule does not match."""
        if self.when_fn is None:
            return None
        try:
            result = self.when_fn(event=event, vars=self.vars)
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            if result:
                return None
        except Exception as exc:  # a failing expression means "no match", with the reason kept
            return f"when: {type(exc).__name__}: {exc}"
        return f"when: {self.when} is {result!r}"
