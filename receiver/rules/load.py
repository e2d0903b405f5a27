"""Rule files: load, validate and compile once; then match events to planned actions.

``load_rules`` reads rule files (or directories of ``*.yaml``/``*.yml``), validates every
rule and every action against the sink kind it names, compiles conditions, regexes,
globs, ``when:`` expressions and templates, and returns a :class:`RuleSet`. All problems
of all files are collected into one located :class:`~receiver.errors.ConfigError`.

``RuleSet.match`` is pure and fast: ``rules_index`` finds the few rules worth looking at
for an event (by its type, source and platform, and literal values on other paths)
without disturbing file order.
The format is documented in ``docs/rules.md``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from receiver.errors import ConfigError, Problem
from receiver.rules.conditions import compile_group
from receiver.rules.group import compile_group as compile_grouping
from receiver.rules.index import RuleIndex
from receiver.rules.model import ActionSpec, PlannedAction, Rule
from receiver.rules.mutetime import QUIET_KEYS, compile_quiet
from receiver.rules.templates import (
    Compiled,
    JsonText,
    RenderError,
    as_written,
    compile_params,
    compile_when,
    render_action,
)
from receiver.yamlfile import Located, PathKey, format_path, loads, problems_from_pydantic

__all__ = [
    "ActionCheck",
    "ActionSpec",
    "Explanation",
    "PlannedAction",
    "RenderError",
    "Rule",
    "RuleSet",
    "load_rules",
    "render_action",
]

RESERVED_ACTION_KEYS = ("sink", "emit", "group", *QUIET_KEYS)
_EMIT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_KEY_MESSAGES = ("unknown key", "required key is missing")
_M = TypeVar("_M", bound=BaseModel)
# A sink's own check of an action's literal parameters: (path under the action, problem) pairs.
ActionCheck = Callable[[Mapping[str, Any]], list[tuple[PathKey, str]]]


@dataclass(frozen=True)
class Explanation:
    rule: str
    file: str
    line: int | None
    matched: bool
    reason: str
    skipped_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "file": self.file,
            "line": self.line,
            "matched": self.matched,
            "reason": self.reason,
            "skipped_by": self.skipped_by,
        }


class RuleSet:
    """The compiled rules of a set of files, in evaluation order."""

    def __init__(self, rules: Sequence[Rule], version: str) -> None:
        self.rules = tuple(rules)
        self.version = version
        self.grouped = any(a.group is not None for r in self.rules for a in r.actions)  # any group: at all
        self._index = RuleIndex(self.rules)
        self._planned = {(r.name, p.action_index): p for r in self.rules for p in r.planned}

    def planned_action(self, rule: str, index: int) -> PlannedAction | None:
        """Action ``index`` of rule ``rule`` (what a stored delivery or group names), if these rules have it."""
        return self._planned.get((rule, index))

    def match(self, event: Mapping[str, Any]) -> list[Rule]:
        """The rules that match, in order, up to and including the first with ``stop: true``."""
        out = []
        for rule in self._index.candidates(event):
            if rule.when_fn is None or rule.passes_when(event) is None:
                out.append(rule)
                if rule.stop:
                    break
        return out

    def plan(self, event: Mapping[str, Any]) -> list[PlannedAction]:
        """The actions of the matching rules, flattened in order."""
        return [p for rule in self.match(event) for p in rule.planned]

    def explain(self, event: Mapping[str, Any]) -> list[Explanation]:
        """For every rule: matched or not and why, or skipped after an earlier ``stop``.

        Conditions are checked in the order they are written; the reason names the first
        one that fails and the value it saw.
        """
        out = []
        stopped_by: Rule | None = None
        for rule in self.rules:
            if stopped_by is not None:
                where = f"{stopped_by.file}:{stopped_by.line}"
                skipped = f"skipped: rule {stopped_by.name!r} ({where}) matched with stop: true"
                out.append(Explanation(rule.name, rule.file, rule.line, False, skipped, stopped_by.name))
                continue
            reason = next((r for c in rule.conditions if (r := c.why_not(event)) is not None), None)
            if reason is None:
                reason = rule.passes_when(event)
            if reason is not None:
                out.append(Explanation(rule.name, rule.file, rule.line, False, reason))
                continue
            text = "matched; stop: later rules are skipped" if rule.stop else "matched"
            out.append(Explanation(rule.name, rule.file, rule.line, True, text))
            if rule.stop:
                stopped_by = rule
        return out


# --- loading --------------------------------------------------------------------------------


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vars: dict[str, Any] | None = None
    rules: list[Any] | None = None


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1)
    description: StrictStr | None = None
    match: dict[str, Any] | None = None
    when: StrictStr | None = None
    actions: list[Any] | None = None
    stop: StrictBool = False


def load_rules(
    paths: Sequence[Path | str],
    sinks: Mapping[str, type[BaseModel]],
    checks: Mapping[str, ActionCheck] | None = None,
) -> RuleSet:
    """Load rule files and directories (``*.yaml``/``*.yml``, by file name). Raises ConfigError.

    ``sinks`` maps each configured sink id to the pydantic model of its kind's action
    parameters; actions are validated against it. ``checks`` optionally maps a sink id to
    a check of an action's literal (non-template) parameters against that sink's own
    configuration (an ``apprise`` sink knows which tags its URLs carry).

    Every problem of every file is reported in one go: a problem in one key of a rule does
    not keep the rule's other keys, its actions or its name (duplicates) from being checked.
    """
    problems: list[Problem] = []
    files = _rule_files(paths, problems)
    digest = hashlib.sha256()
    rules: list[Rule] = []
    first_seen: dict[str, tuple[str, int, int | None]] = {}
    for path, name in files:
        try:
            raw = path.read_bytes()
            doc = loads(raw.decode("utf-8"), name, tags={"!json": JsonText})
        except OSError as exc:
            problems.append(Problem(name, None, "", f"cannot read file: {exc.strerror or exc}"))
            continue
        except UnicodeDecodeError:
            problems.append(Problem(name, None, "", "file is not UTF-8 text"))
            continue
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        found: list[Problem] = []
        for i, rule_name, rule in _load_file(doc, sinks, checks or {}, found):
            if rule_name is not None:
                first = first_seen.setdefault(rule_name, (doc.file, i, doc.line_of(("rules", i))))
                if first[:2] != (doc.file, i):
                    found.append(
                        doc.problem(
                            ("rules", i, "name"),
                            f"duplicate rule name {rule_name!r} (first defined at {first[0]}:{first[2]})",
                        )
                    )
            if rule is not None:
                rules.append(rule)
        # In the order of the file, whichever check found them.
        problems.extend(sorted(found, key=lambda p: p.line or 0))
    if problems:
        raise ConfigError(problems)
    return RuleSet(rules, digest.hexdigest()[:12])


def _rule_files(paths: Sequence[Path | str], problems: list[Problem]) -> list[tuple[Path, str]]:
    """(path, name as given) of every rule file, sorted by file name."""
    found: dict[Path, tuple[Path, str]] = {}
    for given in paths:
        p = Path(given)
        if p.is_dir():
            # Dot files are skipped: editors leave ``.#rules.yaml`` and swap files behind.
            for child in p.iterdir():
                if child.suffix in (".yaml", ".yml") and not child.name.startswith(".") and child.is_file():
                    found.setdefault(child.resolve(), (child, str(child)))
        elif p.exists():
            found.setdefault(p.resolve(), (p, str(given)))
        else:
            problems.append(Problem(str(given), None, "", "no such file or directory"))
    return sorted(found.values(), key=lambda f: (f[0].name, f[1]))


def _lenient(
    model: type[_M], doc: Located, at: PathKey, raw: dict[str, Any], problems: list[Problem], fill: dict[str, Any]
) -> tuple[_M, set[str]]:
    """``raw`` validated by ``model``, and the keys that failed. Their problems are reported;
    the keys that passed are kept (the failed ones take their defaults, or ``fill``) so that
    what depends on them is still checked in the same round."""
    try:
        return model.model_validate(raw), set()
    except ValidationError as exc:
        problems.extend(problems_from_pydantic(doc, exc, at))
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        kept = {k: v for k, v in raw.items() if k in model.model_fields and k not in bad}
        return model.model_validate({**fill, **kept}), bad


def _load_file(
    doc: Located, sinks: Mapping[str, type[BaseModel]], checks: Mapping[str, ActionCheck], problems: list[Problem]
) -> list[tuple[int, str | None, Rule | None]]:
    """(position, name if valid, rule if valid) of every rule; problems are collected."""
    if doc.data is None:
        return []
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "a rule file is a mapping with vars: and rules:"))
        return []
    top, _ = _lenient(_FileModel, doc, (), doc.data, problems, {})
    variables = top.vars or {}
    return [_load_rule(doc, i, raw, variables, sinks, checks, problems) for i, raw in enumerate(top.rules or [])]


def _load_rule(
    doc: Located,
    i: int,
    raw: Any,
    variables: Mapping[str, Any],
    sinks: Mapping[str, type[BaseModel]],
    checks: Mapping[str, ActionCheck],
    problems: list[Problem],
) -> tuple[int, str | None, Rule | None]:
    at: PathKey = ("rules", i)
    if not isinstance(raw, dict):
        problems.append(doc.problem(at, "a rule is a mapping with name:, match:, actions: …"))
        return i, None, None
    before = len(problems)
    spec, bad = _lenient(_RuleModel, doc, at, raw, problems, {"name": "-"})
    name = spec.name if "name" in raw and "name" not in bad else None

    def report(path: PathKey, message: str) -> None:
        problems.append(doc.problem(path, message))

    conditions = compile_group(spec.match or {}, (*at, "match"), report)
    when_fn = None
    if spec.when is not None:
        try:
            when_fn = compile_when(spec.when)
        except TemplateSyntaxError as exc:
            report((*at, "when"), f"invalid expression: {exc.message}")
    actions = [
        _load_action(doc, (*at, "actions", j), a, variables, sinks, checks, problems)
        for j, a in enumerate(spec.actions or [])
    ]
    if len(problems) > before:
        return i, name, None
    done = tuple(a for a in actions if a is not None)
    planned = tuple(PlannedAction(spec.name, j, a.sink, a.emit, a) for j, a in enumerate(done))
    rule = Rule(
        name=spec.name,
        description=spec.description,
        file=doc.file,
        line=doc.line_of(at),
        stop=spec.stop,
        actions=done,
        vars=variables,
        when=spec.when,
        conditions=tuple(conditions),
        when_fn=when_fn,
        planned=planned,
    )
    return i, name, rule


def _load_action(
    doc: Located,
    at: PathKey,
    raw: Any,
    variables: Mapping[str, Any],
    sinks: Mapping[str, type[BaseModel]],
    checks: Mapping[str, ActionCheck],
    problems: list[Problem],
) -> ActionSpec | None:
    """The compiled action, or None after reporting every problem found in it."""
    before = len(problems)

    def report(path: PathKey, message: str) -> None:
        problems.append(doc.problem(path, message))

    if not isinstance(raw, dict):
        report(at, "an action is a mapping with sink: and the sink's parameters")
        return None
    sink, emit = raw.get("sink"), raw.get("emit")
    if sink is None:
        report((*at, "sink"), "required key is missing")
    elif not isinstance(sink, str) or sink not in sinks:
        known = ", ".join(sorted(sinks)) or "none configured"
        report((*at, "sink"), f"unknown sink {sink!r} (known: {known})")
    if emit is not None and not (isinstance(emit, str) and _EMIT.match(emit)):
        report((*at, "emit"), "must be an event type such as comparison.completed")
    repeat_interval, mute_time = compile_quiet(raw, at, report)
    group = compile_grouping(raw["group"], (*at, "group"), report) if "group" in raw else None
    params = {k: v for k, v in raw.items() if k not in RESERVED_ACTION_KEYS}
    compiled = compile_params(params)
    for path, message in compiled.errors:
        report((*at, *path), message)
    if not isinstance(sink, str) or sink not in sinks:
        return None  # without a sink there is no parameter model to check the rest against
    model = sinks[sink]
    try:
        model.model_validate(as_written(compiled.value))
    except ValidationError as exc:
        # Template strings stand for values known only when rendering: a wrong value at
        # (or under, for union branches) their positions is not an error yet, render_action
        # checks it again. An unknown or missing key is an error whatever the value.
        templated = [format_path((*at, *p)) for p in compiled.template_paths]
        problems.extend(
            p
            for p in problems_from_pydantic(doc, exc, at)
            if p.message in _KEY_MESSAGES
            or not any(p.path == t or p.path.startswith((t + ".", t + "[")) for t in templated)
        )
    check = checks.get(sink)
    if check is not None:
        literal = {k: v for k, v in params.items() if not _has_template(compiled.value.get(k))}
        for path, message in check(literal):
            report((*at, *path), message)
    if len(problems) > before:
        return None
    return ActionSpec(
        sink, emit, params, doc.line_of(at), model, compiled.value, variables, group, repeat_interval, mute_time
    )


def _has_template(value: Any) -> bool:
    """Whether a compiled parameter value is, or holds, a template (known only when rendering)."""
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return isinstance(value, Compiled)
