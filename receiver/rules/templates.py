"""Jinja2 templates for rule actions: one sandboxed environment, compiled at load.

Every string in an action's parameters that contains ``{{`` or ``{%`` is compiled once
when the rules load (nested dicts and lists too, e.g. ``request.path``); every other value
is passed through unchanged. Templates see ``event`` (the envelope) and ``vars`` (the rule
file's ``vars:``) and render to text; a string tagged ``!json`` in the rule file is parsed
as JSON after rendering (or at load, when it is not a template), so a template can give a
request body a number, a boolean, null, a list or an object.

A template that fails while rendering raises :class:`RenderError` with a ``reason``;
the dispatcher records it as a failed delivery, never as a failed event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from pydantic import BaseModel, ValidationError

from receiver import jsonutil
from receiver.errors import HookyardError
from receiver.rules.group import GroupView
from receiver.rules.model import PlannedAction
from receiver.sinks.base import action_params
from receiver.templating import ENV, ESCAPE, Escape, is_template
from receiver.yamlfile import PathKey, format_path


class RenderError(HookyardError):
    """A template or its rendered result that cannot be used; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- compile at load ------------------------------------------------------------------------


class JsonText(str):
    """A rule-file string tagged ``!json``: its text (rendered, if a template) is JSON."""


@dataclass(frozen=True)
class Compiled:
    """A compiled template string standing where the string was in the parameters;
    ``json``: the rendered text is parsed as JSON (``!json``)."""

    source: str
    template: Template
    json: bool = False


@dataclass
class CompiledParams:
    """Parameters with template strings replaced by :class:`Compiled` values.

    ``template_paths`` are the positions (relative to the parameters) of those strings;
    ``errors`` are (position, message) pairs for templates that do not compile.
    """

    value: Any
    template_paths: list[PathKey]
    errors: list[tuple[PathKey, str]]


def compile_params(params: Any) -> CompiledParams:
    """Compile every template string inside ``params`` (nested dicts and lists too)."""
    paths: list[PathKey] = []
    errors: list[tuple[PathKey, str]] = []

    def walk(value: Any, path: PathKey) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if is_template(value):
            paths.append(path)
            try:
                return Compiled(value, ENV.from_string(value), json=isinstance(value, JsonText))
            except TemplateSyntaxError as exc:
                errors.append((path, f"invalid template: {exc.message}"))
        elif isinstance(value, JsonText):
            try:
                return jsonutil.loads(str(value))
            except ValueError as exc:
                errors.append((path, f"!json: not valid JSON: {exc}"))
        return value

    return CompiledParams(walk(params, ()), paths, errors)


def as_written(value: Any) -> Any:
    """``value`` with each compiled template back to its source text (for load-time checks)."""
    if isinstance(value, Compiled):
        return value.source
    if isinstance(value, dict):
        return {k: as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_written(v) for v in value]
    return value


def compile_when(source: str) -> Callable[..., Any]:
    """Compile a ``when:`` expression. Raises TemplateSyntaxError."""
    return ENV.compile_expression(source, undefined_to_none=False)


# --- render at delivery time ----------------------------------------------------------------


def render_value(
    value: Any,
    context: Mapping[str, Any],
    path: PathKey = (),
    escapes: Mapping[PathKey, Escape] | None = None,
    deferred: frozenset[PathKey] = frozenset(),
) -> Any:
    """Render every compiled template in ``value``; other values are returned as they are.

    ``escapes`` maps a parameter's position to how values interpolated there are escaped;
    templates at ``deferred`` positions stay source text (rendered later, by their sink)."""
    if isinstance(value, Compiled):
        if path in deferred:
            return value.source
        where = format_path(path) or "value"
        token = ESCAPE.set((escapes or {}).get(path))
        try:
            text = value.template.render(context)
        except Exception as exc:  # any template failure is a failed delivery, never a crash
            raise RenderError(f"template error in {where}: {_describe(exc)}") from None
        finally:
            ESCAPE.reset(token)
        if not value.json:
            return text
        try:
            return jsonutil.loads(text)
        except ValueError:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise RenderError(f"{where}: !json rendered {shown!r}, which is not JSON (end with | tojson)") from None
    if isinstance(value, dict):
        return {k: render_value(v, context, (*path, k), escapes, deferred) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, (*path, i), escapes, deferred) for i, v in enumerate(value)]
    return value


def render_model(planned: PlannedAction, event: Mapping[str, Any], group: Any = None) -> BaseModel:
    """The action's parameters rendered for ``event`` (without ``sink``/``emit``), validated
    once with the sink kind's model (a template may have produced a value the sink cannot
    take): the routing stage orders, stores (:func:`action_params`) and sends this instance.

    Values interpolated where the sink kind's model says (``template_escapes``) are escaped
    for that place. A grouped action's message also sees ``group`` (a ``rules.group.GroupView``;
    without one, the group of ``event`` alone).
    Raises RenderError.
    """
    action = planned.action
    escapes = getattr(action.model, "template_escapes", None)
    deferred: frozenset[PathKey] = getattr(action.model, "deferred_templates", frozenset())
    context = {"event": event, "vars": action.vars}
    if group is None and action.group is not None:  # a preview (rules test, examples): a group of one
        group = GroupView([event], action.group.key(event), action.group.max_events)
    if group is not None:
        context["group"] = group
    rendered: dict[str, Any] = render_value(action.compiled, context, (), escapes, deferred)
    return validated(action.model, rendered)


def render_action(planned: PlannedAction, event: Mapping[str, Any], group: Any = None) -> dict[str, Any]:
    """The rendered parameters as stored and shown (``render_model``, dumped)."""
    return action_params(render_model(planned, event, group))


def validated(model: type[BaseModel], params: Any) -> BaseModel:
    """``params`` as ``model``; a value the model refuses is a RenderError naming where and why."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        details = "; ".join(
            f"{format_path([p for p in e['loc'] if isinstance(p, str | int)]) or 'params'}: {e['msg']}"
            for e in exc.errors()
        )
        raise RenderError(f"rendered params are invalid: {details}") from None


def _describe(exc: BaseException) -> str:
    # Jinja's own errors and our filters' TypeErrors already read well on their own.
    if isinstance(exc, TypeError) or type(exc).__module__.startswith("jinja2"):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
