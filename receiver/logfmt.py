"""Structured log lines: one event name and ``key=value`` fields, as logfmt or JSON.

``log_event(log, logging.INFO, "delivery.failed", delivery=..., sink=...)`` logs one line.
With ``server.log_format: text`` the message reads ``delivery.failed delivery=dlv_1 sink=hook``
after the usual time/level/logger prefix; with ``json`` every line (ours and the libraries')
is one JSON object, and an event's fields are top-level keys. Callers pass only values that
are safe to show: reasons and URLs are redacted where they are made (see ``sinks.base``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
_BARE = re.compile(r"^[^\s\"=\\]+$")


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple | set | frozenset):
        value = ",".join(str(v) for v in value)
    text = str(value)
    # Quoted (JSON string escapes) when it has spaces, quotes, '=' or newlines: one line per event.
    return text if not text or _BARE.match(text) else json.dumps(text, ensure_ascii=False)


class LogThrottle:
    """At most one line per key every ``every`` seconds, so a flood of bad requests cannot
    flood the log; the lines held back are counted and reported with the next one.

    ``allow(key)`` answers None (hold this line back) or how many were held back since the
    last line for ``key``. Keys are bounded (``max_keys``): past it the oldest are forgotten."""

    def __init__(self, every: float, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.max_keys = max_keys
        self.clock = clock
        self._seen: dict[Hashable, tuple[float, int]] = {}  # key → (time of its last line, held back since)

    def allow(self, key: Hashable) -> int | None:
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every:
            self._seen[key] = (last[0], last[1] + 1)
            return None
        if last is None and len(self._seen) >= self.max_keys:
            del self._seen[next(iter(self._seen))]  # insertion order: the oldest key
        self._seen[key] = (now, 0)
        return last[1] if last is not None else 0


def logfmt(event: str, fields: dict[str, Any]) -> str:
    """``event k=v k2="v 2"`` (fields in the order given)."""
    return " ".join([event, *(f"{k}={_value(v)}" for k, v in fields.items())])


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields`` as one structured line (cheap when ``level`` is off)."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", logfmt(event, fields), extra={"event": event, "fields": fields})


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, then ``event`` and its fields,
    or ``message`` for a plain log call."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        event = getattr(record, "event", None)
        fields = getattr(record, "fields", None)
        if isinstance(event, str) and isinstance(fields, dict):
            out["event"] = event
            for key, value in fields.items():
                out.setdefault(key, _jsonable(value))
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def handler(log_format: str) -> logging.Handler:
    """A stderr handler rendering ``log_format`` (``text`` or ``json``)."""
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return out
