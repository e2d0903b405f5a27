"""Secrets resolved where they are used, for commands that need none.

``hookyard events``, ``deliveries``, ``normalize`` and ``rules test`` read the storage URL,
the sources' adapters and the rules; they must work on a machine where the webhook secrets
are not set. ``load_config(..., secrets=False)`` therefore reads an unset ``${VAR}`` in a
secret-holding key as a marker instead of an error:

- a source whose secret is unset gets an :class:`Unresolved` verifier that says which
  variable is missing the moment something tries to verify with it;
- a sink whose options hold an unset variable is kept with ``options=None`` (only its id and
  kind, which is all rule validation needs);
- the same variable anywhere else (``storage.url``) is still a located problem at load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from receiver import yamlfile
from receiver.errors import ConfigError, HookyardError, Problem
from receiver.verify.base import RawRequest, Verified

_MARK = "\x00hookyard-unset:"


class SecretUnavailable(HookyardError):
    """A secret was needed but its environment variable is not set."""


def unset_message(name: str) -> str:
    return f"environment variable {name} is not set"


def is_secret_path(path: Sequence[str | int]) -> bool:
    """Keys whose values are credentials: source secrets, the web token, sink options."""
    if len(path) >= 3 and path[0] == "sources":
        return path[2] == "secrets"
    if len(path) >= 3 and path[0] == "sinks":
        return path[2] not in ("id", "kind")
    return tuple(path[:2]) == ("web", "token")


def _strings(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _strings(value, (*path, i))


def deferring_env(cfg_path: Path, env: Mapping[str, str]) -> Mapping[str, str]:
    """``env`` plus a marker for every unset variable a secret key refers to without a default."""
    try:
        raw = yamlfile.load(cfg_path)  # not expanded: we want the ${VAR} references themselves
    except ConfigError:
        return env  # the real load reports it
    extra: dict[str, str] = {}
    for path, value in _strings(raw.data):
        if not is_secret_path(path):
            continue
        for m in yamlfile._ENV.finditer(value):
            name, default = m.group(1), m.group(2)
            if name and default is None and name not in env:
                extra[name] = f"{_MARK}{name}\x00"
    return {**env, **extra} if extra else env


def unset_names(value: str) -> list[str]:
    return [part.split("\x00", 1)[0] for part in value.split(_MARK)[1:]]


def has_unset(data: Any) -> bool:
    return any(_MARK in value for _, value in _strings(data))


def misplaced(doc: yamlfile.Located) -> list[Problem]:
    """A deferred variable used outside a secret key: reported as if it had not been deferred."""
    return [
        doc.problem(path, unset_message(name))
        for path, value in _strings(doc.data)
        if not is_secret_path(path)
        for name in unset_names(value)
    ]


def pending(doc: yamlfile.Located, index: int, secrets: Sequence[str]) -> list[Problem]:
    """The located "not set" problems of source ``index``'s deferred secrets."""
    return [
        doc.problem(("sources", index, "secrets", j), unset_message(name))
        for j, value in enumerate(secrets)
        for name in unset_names(value)
    ]


class Unresolved:
    """The verifier of a source whose secret is not set: says so when it is used."""

    def __init__(self, scheme: str, problems: Sequence[Problem]) -> None:
        self.scheme = scheme
        self.problems = tuple(problems)

    def verify(self, req: RawRequest, now: float) -> Verified:
        raise SecretUnavailable("; ".join(str(p) for p in self.problems))
