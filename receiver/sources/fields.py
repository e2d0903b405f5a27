"""The ``data`` sections of the envelope: their keys, value kinds and coercion.

This table is the single source of truth for the code adapters, the generic
mapping and the published JSON Schema (a test keeps them in step). A section that
is present carries every one of its keys, ``null`` when unknown, so rules and
templates can read any key without guarding; a section that does not apply is absent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
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
    coercer = COERCERS.get(kind)
    if coercer is None:
        if value is None or value == "":
            return None
        raise ValueError(f"unknown value kind {kind!r}")
    return coercer(value)


# One coercer per value kind, each also mapping null and "" to None. Looked up once per
# key (via the per-section tables below) rather than dispatching on the kind's name per value:
# this runs for every key of every event. Each starts with a fast path for the value type
# parsed JSON usually carries; the rest is the general path.


def _to_str(value: Any) -> str | None:
    if value.__class__ is str:
        return value or None
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{_show(value)} is not a string")


def _to_int(value: Any) -> int | float | None:
    if value.__class__ is int:
        return value
    if value is None or value == "":
        return None
    return _number(value, integer=True)


def _to_num(value: Any) -> int | float | None:
    cls = value.__class__
    if cls is int:
        return value
    if cls is float and math.isfinite(value):
        return int(value) if value.is_integer() else value
    if value is None or value == "":
        return None
    return _number(value, integer=False)


def _to_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    return _bool(value)


def _to_time(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return to_time(value)


_OUTCOME_SET = frozenset(OUTCOMES)


def _to_outcome(value: Any) -> str | None:
    if value.__class__ is str and value in _OUTCOME_SET:
        return value
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in OUTCOMES:
        return text
    raise ValueError(f"{_show(value)} is not an outcome ({', '.join(OUTCOMES)})")


COERCERS: dict[str, Callable[[Any], Any]] = {
    "str": _to_str,
    "int": _to_int,
    "num": _to_num,
    "bool": _to_bool,
    "time": _to_time,
    "outcome": _to_outcome,
}
"""The coercer of each value kind (what :func:`coerce` dispatches to)."""

# Built once from SECTIONS / OPEN_SECTIONS (which nothing changes at run time).
_SECTION_COERCERS = {name: {key: COERCERS[kind] for key, kind in keys.items()} for name, keys in SECTIONS.items()}
_EXTRA_COERCERS = {name: COERCERS[kind] for name, kind in OPEN_SECTIONS.items()}
_EMPTY_SECTIONS = {name: dict.fromkeys(keys) for name, keys in SECTIONS.items()}

# The shape nearly every timestamp has: ``YYYY-MM-DDTHH:MM:SS``, optional milli- or
# microseconds, then ``Z``, ``+00:00`` or no zone (taken as UTC). ASCII digits only.
_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]{3}|[0-9]{6}))?(?:Z|\+00:00)?")


def to_time(value: Any) -> str:
    """RFC 3339 in UTC (``...Z``) from an ISO 8601 string or unix seconds/milliseconds."""
    if value.__class__ is str and (match := _UTC_TIME.fullmatch(value)):
        # Already UTC, so the result is the input's own fields: only check that they make
        # a real date and time (as the general path would), and skip datetime's formatting.
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass  # the general path raises its own error
        else:
            fraction = match.group(1)
            if fraction is None or not fraction.strip("0"):
                return value[:19] + "Z"  # isoformat() leaves out zero microseconds
            return f"{value[:19]}.{fraction:0<6}Z"
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
    coercers = _SECTION_COERCERS[name]
    extra = _EXTRA_COERCERS.get(name)  # None: the section takes no further keys
    problems: list[str] = []
    out = _EMPTY_SECTIONS[name].copy()
    known = False
    for key, value in values.items():
        coercer = coercers.get(key, extra)
        if coercer is None:
            problems.append(f"data.{name}.{key}: not a key of the {name} section")
            continue
        # A null (None, or what coerces to None) leaves a section key null and keeps an extra
        # metric out: extras appear only when known.
        if value is None:
            continue
        try:
            coerced = coercer(value)
        except ValueError as exc:
            problems.append(f"data.{name}.{key}: {exc}")
            continue
        if coerced is not None:
            out[key] = coerced
            known = True
    if not known:
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
