"""The ``data`` sections of the envelope: their keys, value kinds and coercion.

This table is the single source of truth for the code adapters, the generic
mapping and the published JSON Schema (a test keeps them in step). A section that
is present carries every one of its keys, ``null`` when unknown, so rules and
templates can read any key without guarding; a section that does not apply is absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

OUTCOMES = ("passed", "failed", "errored", "cancelled", "skipped", "known_failure")

# Value kinds: str, int, num, bool, time (RFC 3339), outcome (one of OUTCOMES).
SECTIONS: dict[str, dict[str, str]] = {
    "run": {
        "id": "str",
        "name": "str",
        "project": "str",
        "status": "str",
        "outcome": "outcome",
        "url": "str",
        "ci_url": "str",
        "started_at": "time",
        "finished_at": "time",
        "duration_ms": "num",
    },
    "metrics": {
        "p95_latency_ms": "num",
        "avg_latency_ms": "num",
        "error_rate": "num",
        "rps": "num",
        "total_requests": "int",
    },
    "counts": {"total": "int", "passed": "int", "failed": "int", "skipped": "int", "known_failure": "int"},
    "test": {
        "id": "str",
        "name": "str",
        "status": "str",
        "outcome": "outcome",
        "error_message": "str",
        "duration_ms": "num",
    },
    "bug": {"id": "str", "title": "str", "severity": "str", "url": "str"},
    "git": {"repo": "str", "sha": "str", "branch": "str", "pr": "int"},
    "deployment": {"id": "str", "environment": "str", "state": "str", "url": "str"},
}
OPEN_SECTIONS = {"metrics": "num"}
"""Sections that take extra keys (any further metric), with the kind of those values."""

TOP_LEVEL = {"type": "str", "subject": "str", "time": "time", "platform_event": "str"}


def key_kind(section: str, key: str) -> str | None:
    """The value kind of ``data.<section>.<key>``; None when the key is not allowed."""
    keys = SECTIONS.get(section)
    if keys is None:
        return None
    return keys.get(key) or OPEN_SECTIONS.get(section)


def coerce(kind: str, value: Any) -> Any:
    """``value`` as the given kind; None for null or ""; ValueError saying why not."""
    if value is None or value == "":
        return None
    if kind == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"{_show(value)} is not a string")
    if kind in ("int", "num"):
        return _number(value, integer=kind == "int")
    if kind == "bool":
        return _bool(value)
    if kind == "time":
        return to_time(value)
    if kind == "outcome":
        text = str(value).strip().lower()
        if text in OUTCOMES:
            return text
        raise ValueError(f"{_show(value)} is not an outcome ({', '.join(OUTCOMES)})")
    raise ValueError(f"unknown value kind {kind!r}")


def to_time(value: Any) -> str:
    """RFC 3339 in UTC (``...Z``) from an ISO 8601 string or unix seconds/milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # beyond year 5138 in seconds: it is ms
        dt = datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{_show(value)} is not an ISO 8601 / RFC 3339 time") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)  # a platform that omits the zone means UTC in practice
    else:
        raise ValueError(f"{_show(value)} is not a time")
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def section(name: str, values: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """A full section from partial ``values``: coerced, every key present, extras checked.

    Returns None for the section when no value is known. Values that cannot be
    coerced are dropped (null) and reported as problems.
    """
    problems: list[str] = []
    out: dict[str, Any] = dict.fromkeys(SECTIONS[name])
    for key, value in values.items():
        kind = key_kind(name, key)
        if kind is None:
            problems.append(f"data.{name}.{key}: not a key of the {name} section")
            continue
        try:
            coerced = coerce(kind, value)
        except ValueError as exc:
            problems.append(f"data.{name}.{key}: {exc}")
            continue
        if coerced is None and key not in SECTIONS[name]:
            continue  # extra metrics appear only when known
        out[key] = coerced
    if all(v is None for v in out.values()):
        return None, problems
    return out, problems


def build_data(
    sections: Mapping[str, Mapping[str, Any]], thresholds: list[dict[str, Any]] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The ``data`` object from partial sections (plus an optional thresholds list)."""
    data: dict[str, Any] = {}
    problems: list[str] = []
    for name, values in sections.items():
        built, found = section(name, values)
        problems += found
        if built is not None:
            data[name] = built
    if thresholds:
        data["thresholds"] = thresholds
    return data, problems


def _number(value: Any, *, integer: bool) -> int | float:
    number: int | float
    what = "an integer" if integer else "a number"
    if isinstance(value, bool):
        raise ValueError(f"{_show(value)} is not {what}")
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{_show(value)} is not {what}") from None
    else:
        raise ValueError(f"{_show(value)} is not {what}")
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"{_show(value)} is not a finite number")
        if number.is_integer():
            return int(number)
        if integer:
            raise ValueError(f"{_show(value)} is not an integer")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "pass", "passed", "ok"):
        return True
    if text in ("false", "no", "0", "fail", "failed"):
        return False
    raise ValueError(f"{_show(value)} is not a boolean")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
