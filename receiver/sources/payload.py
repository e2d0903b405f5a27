"""Small helpers for reading parsed webhook payloads, shared by the adapters.

Platforms disagree on spelling (``test_run_id`` vs ``testRunId``) and on wrapping
(``{"run": {...}}`` vs the bare object); these helpers absorb that so each adapter
reads like a description of its platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from receiver.events import Normalized
from receiver.sources.base import parse_json, unknown
from receiver.verify.base import RawRequest


def load_json(kind: str, req: RawRequest) -> tuple[Any, Normalized | None]:
    """The parsed body, or an ``<kind>.unknown`` event saying why it is not JSON."""
    if not req.body.strip():
        return None, unknown(kind, "body is empty")
    payload, error = parse_json(req)
    if error is not None:
        return None, unknown(kind, error)
    return payload, None


def camel(name: str) -> str:
    """``test_run_id`` -> ``testRunId``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# Bounded although callers pass literal names: a cache must not grow with what payloads send.
@lru_cache(maxsize=512)
def _spellings(names: tuple[str, ...]) -> tuple[str, ...]:
    """The keys to try for ``names``, in order: each name, then its camelCase form (no repeats)."""
    return tuple(dict.fromkeys(key for name in names for key in (name, camel(name))))


def pick(obj: Any, *names: str) -> Any:
    """The first of ``names`` present in ``obj`` (each also tried in camelCase), else None."""
    # Parsed JSON objects are plain dicts: skip the slower ABC check for them (hot path).
    if obj.__class__ is not dict and not isinstance(obj, Mapping):
        return None
    for key in _spellings(names):
        if key in obj:
            return obj[key]
    return None


def has_any(obj: Any, *names: str) -> bool:
    return isinstance(obj, Mapping) and any(key in obj for key in _spellings(names))


def as_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None
