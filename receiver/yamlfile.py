"""Load YAML while remembering where every key came from.

Config and rule files are validated after loading; every problem is reported as
``file:line: key.path: problem``. ``load`` therefore returns the plain data together
with a map from key path to line, and ``problems_from_pydantic`` turns validation
errors into located :class:`~receiver.errors.Problem` values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from receiver.errors import ConfigError, Problem

PathKey = tuple[str | int, ...]

_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Located:
    """Parsed YAML plus the line of every key and list item (1-based)."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)
    # Every value ``${VAR}`` expanded to: treated as a secret wherever the config shows it.
    expanded: set[str] = field(default_factory=set, repr=False)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        return Problem(self.file, self.line_of(path), format_path(path), message)


def format_path(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# A YAML tag a file kind understands (``!json`` in rule files) → the type its text becomes.
Tags = Mapping[str, Callable[[str], Any]]


def load(
    path: Path | str, *, expand_env: bool = False, env: Mapping[str, str] | None = None, tags: Tags | None = None
) -> Located:
    """Read and parse one YAML file. Raises ConfigError (located) on any problem."""
    p = Path(path)
    name = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(name, None, "", f"cannot read file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(name, None, "", "file is not UTF-8 text")]) from None
    return loads(text, name, expand_env=expand_env, env=env, tags=tags)


def loads(
    text: str,
    name: str = "<string>",
    *,
    expand_env: bool = False,
    env: Mapping[str, str] | None = None,
    tags: Tags | None = None,
) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(name, line, "", f"invalid YAML: {problem}")]) from None
    doc = Located(name, None)
    problems: list[Problem] = []
    builder = _Builder(doc, problems, env if env is not None else os.environ, expand_env, tags or {})
    doc.data = builder.build(node, ()) if node is not None else None
    if problems:
        raise ConfigError(problems)
    return doc


_INVALID = object()  # a scalar that could not be read (already reported)


class _Builder:
    def __init__(self, doc: Located, problems: list[Problem], env: Mapping[str, str], expand: bool, tags: Tags) -> None:
        self.doc = doc
        self.tags = tags
        self.problems = problems
        self.env = env
        self.expand = expand
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        if not path:
            self.doc.lines[()] = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode) and not node.tag.startswith("tag:yaml.org,2002:"):
            known = node.tag in self.tags
            problem = f"{node.tag} takes a string" if known else f"invalid YAML: unknown tag {node.tag!r}"
            self._report(node, path, problem)
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node, path)
                if key is _INVALID:
                    continue
                if not isinstance(key, str | int | float | bool):
                    self.problems.append(
                        Problem(
                            self.doc.file,
                            key_node.start_mark.line + 1,
                            format_path(path),
                            "keys must be scalars",
                        )
                    )
                    continue
                key = str(key) if not isinstance(key, str) else key
                child = (*path, key)
                self.doc.lines[child] = key_node.start_mark.line + 1
                if key in out:
                    self.problems.append(
                        Problem(
                            self.doc.file, key_node.start_mark.line + 1, format_path(child), "duplicate key"
                        )
                    )
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                child = (*path, i)
                self.doc.lines[child] = item.start_mark.line + 1
                items.append(self.build(item, child))
            return items
        value = self._scalar(node, path)
        if value is _INVALID:
            return None
        if self.expand and isinstance(value, str) and "$" in value:
            value = self._expand(value, path, node.start_mark.line + 1)
        return value

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        """The node's value, or ``_INVALID`` after reporting why it has none: an unknown tag
        (``!foo``) or a value its tag cannot hold (``2026-13-45`` is a malformed date)."""
        if node.tag in self.tags and isinstance(node, yaml.ScalarNode):
            return self.tags[node.tag](node.value)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            problem = exc.problem or str(exc)
        except (ValueError, TypeError, OverflowError) as exc:
            problem = f"cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]}: {exc}"
        self._report(node, path, f"invalid YAML: {problem}")
        return _INVALID

    def _report(self, node: yaml.Node, path: PathKey, message: str) -> None:
        self.problems.append(Problem(self.doc.file, node.start_mark.line + 1, format_path(path), message))

    def _expand(self, value: str, path: PathKey, line: int) -> str:
        def repl(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in self.env:
                self.doc.expanded.add(self.env[name])
                return self.env[name]
            if default is not None:
                return default
            self.problems.append(
                Problem(self.doc.file, line, format_path(path), f"environment variable {name} is not set")
            )
            return ""

        return _ENV.sub(repl, value)


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def problems_from_pydantic(doc: Located, err: ValidationError, prefix: PathKey = ()) -> list[Problem]:
    """Turn pydantic errors into located problems, skipping union-tag path parts."""
    problems = []
    for e in err.errors():
        path = _data_path(doc.data, (*prefix, *e["loc"]))
        message = _MESSAGES.get(e["type"], e["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        path, message = _narrow(doc.data, path, message)
        problems.append(doc.problem(path, message))
    # The same problem may surface from several union branches; keep the first of each.
    seen: set[str] = set()
    unique = []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            unique.append(p)
    return unique


# A validator that checks a whole mapping names the offending key first:
# "data.run.colour: unknown key". That key is dotted and relative to the field.
_KEYED = re.compile(r"^([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*): (.+)$", re.DOTALL)


def _narrow(data: Any, path: PathKey, message: str) -> tuple[PathKey, str]:
    """Point a "<dotted.key>: problem" message at that key's own line.

    The key may be written nested (``data: {run: {colour: …}}``), flat
    (``data.run.colour: …``) or mixed; the message then reads as "problem" at that
    path. Anything that does not resolve to a key in the file is left as it was.
    """
    m = _KEYED.match(message)
    if m is None:
        return path, message
    dotted, problem = m.group(1), m.group(2)
    # Relative to the field the error belongs to ("data" → "data.run.colour"), or to the
    # model when the error has no field (a model-level validator).
    base = path
    if path and isinstance(path[-1], str) and (dotted == path[-1] or dotted.startswith(f"{path[-1]}.")):
        base = path[:-1]
    found = _walk_dotted(_at(data, base), dotted)
    if found is None:
        return path, message
    return (*base, *found), problem


def _has(node: Any, part: Any) -> bool:
    """Whether ``node[part]`` is a key of a mapping or an index of a list in the data."""
    in_dict = isinstance(node, dict) and part in node
    return in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))


def _at(data: Any, path: PathKey) -> Any:
    for part in path:
        if not _has(data, part):
            return None
        data = data[part]
    return data


def _walk_dotted(node: Any, dotted: str) -> PathKey | None:
    """The YAML keys that spell ``dotted`` from ``node``, longest key first at each level."""
    parts = dotted.split(".")
    keys: list[str | int] = []
    while parts:
        if not isinstance(node, dict):
            return None
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in node:
                keys.append(key)
                node = node[key]
                parts = parts[n:]
                break
        else:
            # A problem with "data.weather" written as the key "weather.temp": that key.
            rest = ".".join(parts) + "."
            longer = [k for k in node if isinstance(k, str) and k.startswith(rest)]
            return (*keys, longer[0]) if longer else None
    return tuple(keys)


def _data_path(data: Any, loc: Sequence[Any]) -> PathKey:
    """Keep the parts of a pydantic ``loc`` that exist in the data (drops union tags)."""
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if _has(cur, part):
            out.append(part)
            cur = cur[part]
        elif last and isinstance(part, str | int):
            out.append(part)
        # else: a union tag or model name that is not in the data; skip it
    return tuple(out)
