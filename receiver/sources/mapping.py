"""The field mapping behind the ``generic`` kind, the platform presets and overrides.

A mapping (a source's ``normalize:`` block) says where each envelope field comes
from. Each value is a *rule*:

- ``"data.test_id"``: a dotted path into the parsed payload (``items.0.id`` indexes lists);
- ``[runId, run_id, run.id]``: alternative paths, the first one present wins;
- ``"run.{{ payload.status }}"``: a Jinja2 template (any string containing ``{{`` or ``{%``),
  rendered in a sandbox with ``payload``, ``obj`` (the unwrapped object) and ``headers``;
- ``{value: ...}``: a literal;
- the long form ``{path|template|value: ..., map: {from: to}, default: ...}``: the found
  value is translated through ``map`` (exact key first, then ignoring case); ``default``
  is used when nothing is found or the value is not in the map.

``unwrap: [run, data]`` names objects the fields may be wrapped in: the first one
present becomes ``obj``, and paths are looked up there first, then in the whole payload.

Presets are mappings too; :func:`merge` lays a source's own block over a preset,
key by key, which is how a user fixes a platform whose payload differs from ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from receiver import secret
from receiver.events import Normalized
from receiver.jsonutil import MISSING, dig
from receiver.sources import fields
from receiver.sources.payload import load_json
from receiver.verify.base import RawRequest

TYPE_PATTERN = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$"


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class Rule(BaseModel):
    """Where one field's value comes from (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    path: list[str] | None = None
    template: str | None = None
    value: Any = None
    map: dict[str, Any] | None = None
    default: Any = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"template": data} if _is_template(data) else {"path": [data]}
        if isinstance(data, list):
            return {"path": data}
        if isinstance(data, dict) and isinstance(data.get("path"), str):
            return {**data, "path": [data["path"]]}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> Rule:
        given = [name for name in ("path", "template", "value") if name in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("give exactly one of path, template or value")
        if self.path is not None and (not self.path or any(not p for p in self.path)):
            raise ValueError("path must not be empty")
        if self.template is not None:
            try:
                _environment().parse(self.template)
            except jinja2.TemplateSyntaxError as exc:
                raise ValueError(f"template syntax error: {exc.message}") from None
        return self

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


class MappingOptions(BaseModel):
    """A ``normalize:`` block. ``data.<section>.<key>`` may be written flat, nested, or
    half and half (``data: {run.id: …}``)."""

    model_config = ConfigDict(extra="forbid")

    unwrap: list[str] | None = None
    type: Rule | None = None
    subject: Rule | None = None
    time: Rule | None = None
    platform_event: Rule | None = None
    data: dict[str, dict[str, Rule]] = {}

    @model_validator(mode="before")
    @classmethod
    def _fold_flat_keys(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        out: dict[str, Any] = {}
        nested = raw.get("data") or {}
        if not isinstance(nested, dict):
            raise ValueError("data: must be a mapping of sections (run, metrics, …) to keys")
        data: dict[str, dict[str, Any]] = {}
        for section, keys in nested.items():
            if isinstance(section, str) and "." in section:  # data: {run.id: …}
                parts = section.split(".")
                if len(parts) != 2:
                    raise ValueError(f"data.{section}: write data keys as data.<section>.<key>")
                data.setdefault(parts[0], {})[parts[1]] = keys
                continue
            if not isinstance(keys, dict):
                raise ValueError(f"data.{section}: must be a mapping of keys to rules")
            data.setdefault(section, {}).update(keys)
        for key, value in raw.items():
            if key == "data":
                continue
            if isinstance(key, str) and key.startswith("data."):
                parts = key.split(".")
                if len(parts) != 3:
                    raise ValueError(f"{key}: write data keys as data.<section>.<key>")
                data.setdefault(parts[1], {})[parts[2]] = value
            else:
                out[key] = value
        if isinstance(out.get("unwrap"), str):
            out["unwrap"] = [out["unwrap"]]
        if data or "data" in raw:
            out["data"] = data
        return out

    @field_validator("data")
    @classmethod
    def _known_keys(cls, data: dict[str, dict[str, Rule]]) -> dict[str, dict[str, Rule]]:
        for name, keys in data.items():
            if name not in fields.SECTIONS:
                raise ValueError(f"data.{name}: unknown section (known: {', '.join(fields.SECTIONS)})")
            for key in keys:
                if fields.key_kind(name, key) is None:
                    known = ", ".join(fields.SECTIONS[name])
                    raise ValueError(f"data.{name}.{key}: unknown key (known: {known})")
                if fields.key_kind(name, key) == "outcome":
                    for target in _literals(keys[key]):
                        if target is not None and str(target) not in fields.OUTCOMES:
                            outcomes = ", ".join(fields.OUTCOMES)
                            raise ValueError(f"data.{name}.{key}: {target!r} is not an outcome ({outcomes})")
        return data

    @field_validator("type")
    @classmethod
    def _valid_types(cls, rule: Rule | None) -> Rule | None:
        for target in _literals(rule):
            if target is not None and not re.match(TYPE_PATTERN, str(target)):
                raise ValueError(f"{target!r} is not a valid event type (lower-case words joined by dots)")
        return rule


def _literals(rule: Rule | None) -> list[Any]:
    """The values a rule can produce that are known at load time (literal, map targets, default)."""
    if rule is None:
        return []
    found = list(rule.map.values()) if rule.map is not None else []
    if "value" in rule.model_fields_set and rule.map is None:
        found.append(rule.value)
    if rule.has_default:
        found.append(rule.default)
    return found


def merge(preset: MappingOptions, override: MappingOptions | None) -> MappingOptions:
    """``preset`` with every key the source's own block sets replaced by the source's rule."""
    if override is None:
        return preset
    top = {name: getattr(override, name) for name in override.model_fields_set if name != "data"}
    data = {name: dict(keys) for name, keys in preset.data.items()}
    for name, keys in override.data.items():
        data.setdefault(name, {}).update(keys)
    return preset.model_copy(update={**top, "data": data})


@dataclass(frozen=True)
class _Field:
    target: str  # "type" | "subject" | ... | "data.<section>.<key>"
    kind: str
    rule: Rule
    template: jinja2.Template | None


class Mapper:
    """A mapping compiled once (templates included) and applied to many payloads."""

    def __init__(self, options: MappingOptions) -> None:
        env = _environment()
        self.unwrap = options.unwrap or []
        self.has_type = options.type is not None
        self._fields: list[_Field] = []
        for name, kind in fields.TOP_LEVEL.items():
            rule = getattr(options, name)
            if rule is not None:
                self._fields.append(_compile(env, name, kind, rule))
        for section, keys in options.data.items():
            for key, rule in keys.items():
                kind = fields.key_kind(section, key) or "str"
                self._fields.append(_compile(env, f"data.{section}.{key}", kind, rule))

    def apply(self, payload: Any, headers: dict[str, str], base: Normalized) -> Normalized:
        """``base`` with every field this mapping resolves replaced; problems are explained.

        A base of type ``<kind>.unknown`` becomes a known event when the mapping
        resolves ``type``; otherwise its ``normalize_error`` is kept and extended.
        """
        obj = self._unwrapped(payload)
        was_unknown = base.type.endswith(".unknown")
        variables = {"payload": payload, "obj": obj, "headers": headers}
        problems: list[str] = []
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        for f in self._fields:
            value, problem = self._resolve(f, obj, payload, variables, strict=was_unknown)
            if problem is not None:
                problems.append(f"{f.target}: {problem}")
            if value is MISSING:
                continue
            try:
                value = fields.coerce(f.kind, value)
                if f.target == "type" and value is not None:
                    _check_type(value)
            except ValueError as exc:
                problems.append(f"{f.target}: {exc}")
                continue
            if f.target.startswith("data."):
                _, section, key = f.target.split(".")
                sections.setdefault(section, {})[key] = value
            else:
                top[f.target] = value
        data = dict(base.data)
        for section, values in sections.items():
            current = {k: v for k, v in (data.get(section) or {}).items() if v is not None}
            built, found = fields.section(section, {**current, **values})
            problems += found
            if built is None:
                data.pop(section, None)
            else:
                data[section] = built
        typed = top.get("type") is not None
        errors = [base.normalize_error] if base.normalize_error and not (was_unknown and typed) else []
        errors += problems
        if was_unknown and not typed and not errors:
            errors.append("type: could not be determined")
        return replace(
            base,
            type=top["type"] if typed else base.type,
            subject=top.get("subject", base.subject),
            time=top.get("time", base.time),
            platform_event=top.get("platform_event", base.platform_event),
            data=data,
            normalize_error="; ".join(errors) or None,
        )

    def _unwrapped(self, payload: Any) -> Any:
        for path in self.unwrap:
            found = dig(payload, path.split("."))
            if isinstance(found, dict):
                return found
        return payload

    def _resolve(
        self, f: _Field, obj: Any, payload: Any, variables: dict[str, Any], *, strict: bool
    ) -> tuple[Any, str | None]:
        """The rule's value (MISSING when nothing applies) and a problem worth reporting.

        A missing path is only a problem for ``type`` when the event has no type yet
        (``strict``); missing data keys are simply unknown.
        """
        rule = f.rule
        found: Any = MISSING
        problem: str | None = None
        if rule.path is not None:
            for path in rule.path:
                found = dig(obj, path.split("."))
                if found is MISSING and obj is not payload:
                    found = dig(payload, path.split("."))
                if found is not MISSING:
                    break
            if found is MISSING and strict and f.target == "type" and not rule.has_default:
                problem = f"no value at {' or '.join(rule.path)}"
        elif f.template is not None:
            try:
                found = f.template.render(variables).strip()
            except jinja2.TemplateError as exc:  # StrictUndefined lands here too
                found, problem = MISSING, f"template failed: {exc}"
            if found == "":
                found = MISSING
        else:
            found = rule.value
        if rule.map is not None and found is not MISSING:
            mapped = _lookup(rule.map, found)
            if mapped is MISSING and not rule.has_default:
                return MISSING, f"{found!r} is not in the map ({', '.join(rule.map)})"
            found = mapped
        if found is MISSING and rule.has_default:
            return rule.default, None
        return found, problem


def _compile(env: SandboxedEnvironment, target: str, kind: str, rule: Rule) -> _Field:
    template = env.from_string(rule.template) if rule.template is not None else None
    return _Field(target, kind, rule, template)


def _lookup(table: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict | list):
        return MISSING
    key = str(value).lower() if isinstance(value, bool) else str(value)
    if key in table:
        return table[key]
    folded = key.casefold()
    for candidate, target in table.items():
        if candidate.casefold() == folded:
            return target
    return MISSING


def _check_type(value: str) -> None:
    if not re.match(TYPE_PATTERN, value):
        raise ValueError(f"{value!r} is not a valid event type (lower-case words joined by dots)")


class MappingAdapter:
    """An adapter that is nothing but a mapping: ``generic`` and the platform presets."""

    def __init__(self, kind: str, options: MappingOptions) -> None:
        self.kind = kind
        self.mapper = Mapper(options)

    def normalize(self, req: RawRequest) -> Normalized:
        payload, failed = load_json(self.kind, req)
        if failed is not None:
            return failed
        return self.from_payload(payload, secret.template_headers(req.headers))

    def from_payload(self, payload: Any, headers: dict[str, str] | None = None) -> Normalized:
        """The event a parsed payload describes (a poller hands it the platform's API answer)."""
        reason = None if self.mapper.has_type else "the normalize mapping has no type rule"
        base = Normalized(type=f"{self.kind}.unknown", platform=self.kind, raw=payload, normalize_error=reason)
        return self.mapper.apply(payload, headers or {}, base)


def overlay(mapper: Mapper | None, payload: Any, req: RawRequest, n: Normalized) -> Normalized:
    """A code adapter's result with the source's own ``normalize:`` block laid over it."""
    if mapper is None:
        return n
    return mapper.apply(payload, secret.template_headers(req.headers), n)


class CodeAdapter:
    """An adapter written in code (a platform whose payloads need branching), whose result a
    source's own ``normalize:`` block may still override. Subclasses set ``kind`` and write
    ``from_payload``; a body that is not JSON becomes ``<kind>.unknown`` here."""

    kind: str

    def __init__(self, options: MappingOptions | None) -> None:
        self.mapper = Mapper(options) if options is not None else None

    def normalize(self, req: RawRequest) -> Normalized:
        payload, failed = load_json(self.kind, req)
        if failed is not None:
            return self.unparsable(failed, req)
        return overlay(self.mapper, payload, req, self.from_payload(payload, req))

    def from_payload(self, payload: Any, req: RawRequest) -> Normalized:
        raise NotImplementedError

    def unparsable(self, failed: Normalized, req: RawRequest) -> Normalized:
        return failed


def preset(raw: dict[str, Any]) -> MappingOptions:
    """A built-in mapping, validated like a user's (so a broken preset fails at import)."""
    return MappingOptions.model_validate(raw)
