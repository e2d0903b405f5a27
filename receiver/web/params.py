"""Query parameters of the delivery log, parsed once here for both faces (page and API).

Each mistake is an :class:`HTTPError` naming its parameter (``bad_<name>``). The event
filter collects them all: the API answers the first, the page shows each next to its
field and still lists what the other filters find.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from receiver.errors import HTTPError
from receiver.sources.fields import OUTCOMES
from receiver.store.base import NO_DELIVERIES, NOT_SUCCEEDED, DeliveryQuery, DeliveryState

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
TYPE_GLOB = re.compile(r"^[A-Za-z0-9_.*?-]{1,200}$")
TYPE_CHARS = "letters, digits, . _ - * ?"
STATES = tuple(s.value for s in DeliveryState)
# What the event filter's ``delivery`` takes: a state, or no delivery / none succeeded.
DELIVERY_FILTERS = (*STATES, NO_DELIVERIES, NOT_SUCCEEDED)
BEFORE = "an event id (the last id of the previous page)"
EVENT_FILTER_FIELDS = ("source", "type", "sink", "rule", "delivery", "outcome", "since", "q", "limit", "before")


@dataclass(frozen=True)
class EventFilter:
    source: str | None = None
    type: str | None = None  # exact, or a glob: run.*
    since: float | None = None
    before: str | None = None
    text: str | None = None
    limit: int = DEFAULT_LIMIT
    sink: str | None = None
    rule: str | None = None
    delivery: str | None = None  # a state, "none" or "not_succeeded"
    outcome: str | None = None


def text(params: Mapping[str, str], name: str, max_len: int = 200) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if len(value) > max_len:
        raise HTTPError(f"{name} is longer than {max_len} characters", code=f"bad_{name}")
    return value


def one_of(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = text(params, name, 32)
    if value is not None and value not in allowed:
        raise HTTPError(f"{name} must be one of: {', '.join(allowed)}", code=f"bad_{name}")
    return value


def an_id(params: Mapping[str, str], name: str, what: str) -> str | None:
    value = text(params, name, 100)
    if value is not None and not ID.match(value):
        raise HTTPError(f"{name} must be {what}", code=f"bad_{name}")
    return value


def parse_limit(params: Mapping[str, str], default: int = DEFAULT_LIMIT) -> int:
    raw = params.get("limit", "").strip()
    if not raw:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise HTTPError(f"limit must be a whole number from 1 to {MAX_LIMIT}", code="bad_limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise HTTPError(f"limit must be a whole number from 1 to {MAX_LIMIT}", code="bad_limit")
    return limit


def parse_time(value: str) -> float:
    """Seconds since the epoch, or an ISO 8601 / RFC 3339 time (``Z`` or an offset; naive means UTC)."""
    try:
        return float(value)
    except ValueError:
        pass
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise HTTPError(
            "since must be seconds since the epoch or an ISO 8601 time such as 2026-02-06T12:00:00Z",
            code="bad_since",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _type(params: Mapping[str, str]) -> str | None:
    value = text(params, "type", 200)
    if value is not None and not TYPE_GLOB.match(value):
        raise HTTPError(f"type must be an event type or a glob such as run.* ({TYPE_CHARS})", code="bad_type")
    return value


def _since(params: Mapping[str, str]) -> float | None:
    raw = text(params, "since", 64)
    return parse_time(raw) if raw is not None else None


def event_filter_fields(params: Mapping[str, str]) -> tuple[EventFilter, dict[str, HTTPError]]:
    """The filter made of every valid parameter, and the problem of each invalid one (by name)."""
    errors: dict[str, HTTPError] = {}

    def field(name: str, parse: Callable[[], T], fallback: T) -> T:
        try:
            return parse()
        except HTTPError as exc:
            errors[name] = exc
            return fallback

    return (
        EventFilter(
            source=field("source", lambda: text(params, "source", 100), None),
            type=field("type", lambda: _type(params), None),
            since=field("since", lambda: _since(params), None),
            before=field("before", lambda: an_id(params, "before", BEFORE), None),
            text=field("q", lambda: text(params, "q", 200), None),
            limit=field("limit", lambda: parse_limit(params), DEFAULT_LIMIT),
            sink=field("sink", lambda: an_id(params, "sink", "a sink id"), None),
            rule=field("rule", lambda: text(params, "rule", 200), None),
            delivery=field("delivery", lambda: one_of(params, "delivery", DELIVERY_FILTERS), None),
            outcome=field("outcome", lambda: one_of(params, "outcome", OUTCOMES), None),
        ),
        errors,
    )


def parse_event_filter(params: Mapping[str, str]) -> EventFilter:
    """The API's event filter: the first bad parameter is the answer (400)."""
    f, errors = event_filter_fields(params)
    if errors:
        raise next(iter(errors.values()))
    return f


def parse_delivery_query(params: Mapping[str, str]) -> DeliveryQuery:
    return DeliveryQuery(
        state=one_of(params, "state", STATES),
        event_id=text(params, "event", 100),
        sink_id=text(params, "sink", 100),
        limit=parse_limit(params),
    )
