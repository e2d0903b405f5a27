"""What the page and the API do with the delivery log: read, search, retry, replay.

Both faces call these and differ only in how they render the answer. Everything is
derived from the store's existing queries; client mistakes raise :class:`HTTPError`
(4xx with a code), never anything that would become a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from receiver.config import Config
from receiver.errors import HTTPError, NotFound
from receiver.renormalize import Renormalized, renormalize_event
from receiver.retrying import RetryResult, retry_delivery
from receiver.rules import Plan, Router, replay
from receiver.store import Store
from receiver.store.base import (
    AttemptRow,
    DeliveryQuery,
    DeliveryRow,
    EventQuery,
    EventRow,
)
from receiver.store.groups import GroupRow
from receiver.web.params import ID, STATES, EventFilter

# A text search filters rows in Python, so each page looks at no more than this many
# events; the next page carries on from where the scan stopped.
SEARCH_SCAN = 2000
_SCAN_BATCH = 250
# Enough for any real event's deliveries; the page says when there are more.
EVENT_DELIVERIES = 1000
EVENT_CHILDREN = 100  # events an event's emit: deliveries derived, shown on its page
GROUP_MEMBERS_SHOWN = 200  # member events a grouped delivery lists (its count is exact)


@dataclass(frozen=True)
class EventPage:
    events: list[EventRow]
    next_before: str | None  # pass as ``before`` for the next (older) page; None: no more
    scanned: int  # rows looked at (a text search looks at more rows than it returns)
    # event id → {delivery state: how many}; events without deliveries are absent
    delivery_states: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    row: DeliveryRow
    attempts: list[AttemptRow]
    group: GroupRow | None = None  # a grouped action's delivery: the group it sent
    members: list[str] = field(default_factory=list)  # its first GROUP_MEMBERS_SHOWN member event ids


@dataclass(frozen=True)
class EventDetail:
    event: EventRow
    deliveries: list[Delivery]
    parent: EventRow | None
    root: EventRow | None  # the chain's first event, when it is neither this one nor the parent
    children: list[EventRow] = field(default_factory=list)
    more_deliveries: bool = False


def _matches(row: EventRow, needle: str) -> bool:
    return needle in row.id.lower() or needle in (row.subject or "").lower()


class DeliveryLog:
    """The delivery log of one running daemon, from the parts it is handed: the store, the
    router (the rules in force), the clock, ``wake`` (new deliveries are due), ``config`` (the
    config in force: a reload replaces it) and ``breakers`` (the sinks' circuit breakers,
    None where this process does not deliver)."""

    def __init__(
        self,
        store: Store,
        router: Router,
        clock: Callable[[], float],
        wake: Callable[[], None],
        config: Callable[[], Config],
        breakers: Callable[[], dict[str, str] | None] = lambda: None,
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.wake = wake
        self.config = config
        self.breakers = breakers

    async def events(self, f: EventFilter) -> EventPage:
        """Newest first; ``f.text`` keeps events whose id or subject contains it (any case)."""
        page = await self._events(f)
        states = await self.store.event_delivery_states([e.id for e in page.events])
        return EventPage(page.events, page.next_before, page.scanned, states)

    async def _events(self, f: EventFilter) -> EventPage:
        store = self.store

        def query(before: str | None, limit: int) -> EventQuery:
            return EventQuery(
                source=f.source, type=f.type, since=f.since, before_id=before, limit=limit,
                sink=f.sink, rule=f.rule, delivery=f.delivery, outcome=f.outcome,
            )  # fmt: skip

        if f.text is None:
            rows = await store.list_events(query(f.before, f.limit))
            return EventPage(rows, rows[-1].id if len(rows) == f.limit else None, len(rows))
        # A pasted event id finds that event whatever the other filters say.
        exact = await store.get_event(f.text) if ID.match(f.text) else None
        if exact is not None and f.before is None:
            return EventPage([exact], None, 1)
        needle = f.text.lower()
        found: list[EventRow] = []
        scanned = 0
        before = f.before
        while scanned < SEARCH_SCAN:
            want = min(_SCAN_BATCH, SEARCH_SCAN - scanned)
            batch = await store.list_events(query(before, want))
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
        return EventDetail(row, deliveries, parent, root, await store.children(row.id, EVENT_CHILDREN), more)

    async def deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        rows = await self.store.list_deliveries(query)
        attempts = await self.store.attempts_for([d.id for d in rows])
        return [Delivery(d, attempts[d.id]) for d in rows]

    async def delivery(self, delivery_id: str) -> Delivery:
        row = await self.store.get_delivery(delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
        attempts = await self.store.attempts_for([row.id])
        group = await self.store.group_of_delivery(row.id)
        members = await self.store.group_member_ids(group.id, GROUP_MEMBERS_SHOWN) if group is not None else []
        return Delivery(row, attempts[row.id], group, members)

    async def retry(self, delivery_id: str) -> tuple[Delivery, RetryResult]:
        """A dead delivery goes back to the queue with a fresh attempt budget, its action
        re-rendered when it died without parameters (404 / 409 with the reason otherwise)."""
        result = await retry_delivery(self.store, self.router.ruleset, delivery_id, self.clock())
        if not result.ok:
            status = 404 if result.code == "delivery_not_found" else 409
            raise HTTPError(result.message, code=result.code, status=status)
        self.wake()
        return await self.delivery(delivery_id), result

    async def retry_dead(self, sink_id: str) -> int:
        """Every dead delivery to ``sink_id`` goes back to the queue; how many did."""
        if sink_id not in self.config().sinks and sink_id not in await self.store.dead_by_sink():
            raise NotFound(f"no sink {sink_id}", code="sink_not_found")
        n = await self.store.requeue_dead(sink_id, self.clock())
        if n:
            self.wake()
        return n

    async def replay_preview(self, event_id: str) -> tuple[EventRow, Plan]:
        """What a replay would queue now (nothing is stored): for the confirmation step."""
        row = await self.store.get_event(event_id)
        if row is None:
            raise NotFound(f"no event {event_id}", code="event_not_found")
        return row, self.router.plan(row.envelope, replay_of=event_id)

    async def replay(self, event_id: str) -> Plan:
        """Route a stored event again under the current rules: new deliveries linked by ``replay_of``."""
        plan = await replay(self.store, self.router, event_id, self.clock())
        if plan is None:
            raise NotFound(f"no event {event_id}", code="event_not_found")
        if plan.deliveries:
            self.wake()
        return plan

    async def renormalize(self, event_id: str) -> Renormalized:
        """Run the source's current adapter on the stored body again; the new event is stored and routed."""
        done = await renormalize_event(self.store, self.config(), self.router, event_id, self.clock())
        if done.plan.deliveries:
            self.wake()
        return done

    async def stats(self) -> dict[str, object]:
        """Counts for the header and ``/api/stats`` (a dict: other parts may add their own keys)."""
        counts = await self.store.delivery_counts()
        stats: dict[str, object] = {
            "events": await self.store.count_events(),
            "deliveries": {state: int(counts.get(state, 0)) for state in STATES},
            "dead_by_sink": dict(sorted((await self.store.dead_by_sink()).items())),
        }
        breakers = self.breakers()
        if breakers is not None:  # circuit breakers live in the process that delivers
            stats["breakers"] = breakers
        return stats
