"""What the page and the API do with the delivery log: read, search, retry, replay.

Both faces call these and differ only in how they render the answer. Everything is
derived from the store's existing queries; client mistakes raise :class:`HTTPError`
(4xx with a code), never anything that would become a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, cast

from receiver.errors import HTTPError, NotFound
from receiver.events import new_id
from receiver.routing import Plan, replay
from receiver.store.base import (
    AttemptRow,
    DeliveryQuery,
    DeliveryRow,
    DeliveryState,
    DeliveryStore,
    EventQuery,
    EventRow,
    Store,
)

if TYPE_CHECKING:
    from receiver.app import Hookyard

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# A text search filters rows in Python, so each page looks at no more than this many
# events; the next page carries on from where the scan stopped.
SEARCH_SCAN = 2000
_SCAN_BATCH = 250
# Enough for any real event's deliveries; the page says when there are more.
EVENT_DELIVERIES = 1000
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
STATES = tuple(s.value for s in DeliveryState)


@dataclass(frozen=True)
class EventFilter:
    source: str | None = None
    type: str | None = None
    since: float | None = None
    before: str | None = None
    text: str | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class EventPage:
    events: list[EventRow]
    next_before: str | None  # pass as ``before`` for the next (older) page; None: no more
    scanned: int  # rows looked at (a text search looks at more rows than it returns)


@dataclass(frozen=True)
class Delivery:
    row: DeliveryRow
    attempts: list[AttemptRow]


@dataclass(frozen=True)
class EventDetail:
    event: EventRow
    deliveries: list[Delivery]
    parent: EventRow | None
    root: EventRow | None  # the chain's first event, when it is neither this one nor the parent
    children: list[EventRow] = field(default_factory=list)
    more_deliveries: bool = False


# --- query parameters: parsed once here, for both faces -------------------------------------------
def _text(params: Mapping[str, str], name: str, max_len: int = 200) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if len(value) > max_len:
        raise HTTPError(f"{name} is longer than {max_len} characters", code=f"bad_{name}")
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
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPError(
            "since must be seconds since the epoch or an ISO 8601 time such as 2026-02-06T12:00:00Z",
            code="bad_since",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_event_filter(params: Mapping[str, str]) -> EventFilter:
    since_raw = _text(params, "since", 64)
    before = _text(params, "before", 100)
    if before is not None and not _ID.match(before):
        raise HTTPError("before must be an event id (the last id of the previous page)", code="bad_before")
    return EventFilter(
        source=_text(params, "source", 100),
        type=_text(params, "type", 200),
        since=parse_time(since_raw) if since_raw is not None else None,
        before=before,
        text=_text(params, "q", 200),
        limit=parse_limit(params),
    )


def parse_delivery_query(params: Mapping[str, str]) -> DeliveryQuery:
    state = _text(params, "state", 32)
    if state is not None and state not in STATES:
        raise HTTPError(f"state must be one of: {', '.join(STATES)}", code="bad_state")
    return DeliveryQuery(
        state=state,
        event_id=_text(params, "event", 100),
        sink_id=_text(params, "sink", 100),
        limit=parse_limit(params),
    )


def _matches(row: EventRow, needle: str) -> bool:
    return needle in row.id.lower() or needle in (row.subject or "").lower()


class LogStore(Store, DeliveryStore, Protocol):
    """Both backends implement the event and the delivery-queue operations."""


class DeliveryLog:
    """The delivery log of one running daemon (its store, router and dispatcher)."""

    def __init__(self, hy: Hookyard) -> None:
        self.hy = hy
        self.store = cast(LogStore, hy.store)

    async def events(self, f: EventFilter) -> EventPage:
        """Newest first; ``f.text`` keeps events whose id or subject contains it (any case)."""
        store = self.store
        query = EventQuery(source=f.source, type=f.type, since=f.since, before_id=f.before, limit=f.limit)
        if f.text is None:
            rows = await store.list_events(query)
            return EventPage(rows, rows[-1].id if len(rows) == f.limit else None, len(rows))
        # A pasted event id finds that event whatever the other filters say.
        exact = await store.get_event(f.text) if _ID.match(f.text) else None
        if exact is not None and f.before is None:
            return EventPage([exact], None, 1)
        needle = f.text.lower()
        found: list[EventRow] = []
        scanned = 0
        before = f.before
        while scanned < SEARCH_SCAN:
            want = min(_SCAN_BATCH, SEARCH_SCAN - scanned)
            batch = await store.list_events(
                EventQuery(source=f.source, type=f.type, since=f.since, before_id=before, limit=want)
            )
            for row in batch:
                scanned += 1
                before = row.id
                if _matches(row, needle):
                    found.append(row)
                    if len(found) == f.limit:
                        return EventPage(found, row.id, scanned)
            if len(batch) < want:
                return EventPage(found, None, scanned)
        return EventPage(found, before, scanned)

    async def event(self, event_id: str) -> EventDetail:
        store = self.store
        row = await store.get_event(event_id)
        if row is None:
            raise NotFound(f"no event {event_id}", code="event_not_found")
        rows = await store.list_deliveries(DeliveryQuery(event_id=event_id, limit=EVENT_DELIVERIES + 1))
        more = len(rows) > EVENT_DELIVERIES
        rows = list(reversed(rows[:EVENT_DELIVERIES]))  # oldest first: the order things happened
        attempts = await store.attempts_for([d.id for d in rows])
        deliveries = [Delivery(d, attempts[d.id]) for d in rows]
        parent = await store.get_event(row.parent_id) if row.parent_id else None
        root = None
        if row.correlation_id not in (row.id, row.parent_id):
            root = await store.get_event(row.correlation_id)
        return EventDetail(row, deliveries, parent, root, await self._children(row, deliveries), more)

    async def _children(self, row: EventRow, deliveries: list[Delivery]) -> list[EventRow]:
        """Events derived from this one's ``emit:`` deliveries.

        A derived event is stored by the attempt that succeeded, with that attempt's finish
        time as its ``received_at``, the sink as its source and a time-ordered id, so one
        narrow indexed query per emitting delivery finds it (no scan of all events).
        """
        children: dict[str, EventRow] = {}
        for d in deliveries:
            if d.row.emit is None:
                continue
            for a in d.attempts:
                if a.outcome != "succeeded":
                    continue
                window = EventQuery(
                    source=d.row.sink_id,
                    since=a.finished_at,
                    before_id=new_id("evt", a.finished_at + 0.002),
                    limit=50,
                )
                for e in await self.store.list_events(window):
                    if e.parent_id == row.id:
                        children[e.id] = e
        return sorted(children.values(), key=lambda e: (e.received_at, e.id))

    async def deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        rows = await self.store.list_deliveries(query)
        attempts = await self.store.attempts_for([d.id for d in rows])
        return [Delivery(d, attempts[d.id]) for d in rows]

    async def delivery(self, delivery_id: str) -> Delivery:
        row = await self.store.get_delivery(delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
        attempts = await self.store.attempts_for([row.id])
        return Delivery(row, attempts[row.id])

    async def retry(self, delivery_id: str) -> Delivery:
        """A dead delivery goes back to the queue with a fresh attempt budget (409 otherwise)."""
        await self.delivery(delivery_id)  # 404 before 409
        if not await self.store.requeue(delivery_id, self.hy.clock()):
            state = (await self.delivery(delivery_id)).row.state.value
            raise HTTPError(
                f"delivery {delivery_id} is {state}; only dead deliveries can be retried", code="not_dead", status=409
            )
        self.hy.wake()
        return await self.delivery(delivery_id)

    async def replay(self, event_id: str) -> Plan:
        """Route a stored event again under the current rules: new deliveries linked by ``replay_of``."""
        plan = await replay(self.store, self.hy.router, event_id, self.hy.clock())
        if plan is None:
            raise NotFound(f"no event {event_id}", code="event_not_found")
        if plan.deliveries:
            self.hy.wake()
        return plan

    async def stats(self) -> dict[str, object]:
        counts = await self.store.delivery_counts()
        stats: dict[str, object] = {
            "events": await self.store.count_events(),
            "deliveries": {state: int(counts.get(state, 0)) for state in STATES},
        }
        if self.hy.dispatcher.running:  # circuit breakers live in the process that delivers
            stats["breakers"] = self.hy.dispatcher.breaker_states()
        return stats
