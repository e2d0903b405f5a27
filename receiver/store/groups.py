"""Groups of grouped actions (``group:``): joining at ingest, flushing once due. Both backends.

Written once as step algorithms (``steps.py``), driven inside the caller's transaction:

* :func:`join`: an event's grouped actions join the open group of their (rule, action, key)
  in the event's transaction: one upsert (which opens the group, due at ``first + wait``, when
  there is none) and one member row per grouped action.
* :func:`flush`: claims due open groups and, in the same transaction, either postpones one
  (a follow-up is due no sooner than ``interval`` after the previous send of its key) or
  renders its ONE delivery (:class:`GroupRenderer`), inserts it and marks the group sent.

The claim is the transaction itself: PostgreSQL locks the due rows ``FOR UPDATE SKIP LOCKED``
(another flusher takes the next ones; an event joining waits for the row and, once it is
sent, opens a follow-up group), SQLite's single writer runs the whole flush at once. A
flusher killed mid-way rolls back: nothing is lost, nothing is sent twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from receiver import jsonutil
from receiver.store.base import NewDelivery
from receiver.store.rows import delivery_args
from receiver.store.sql import INSERT_DELIVERY, pg
from receiver.store.steps import Statement, Steps, drive_postgres, drive_sqlite, rows

if TYPE_CHECKING:  # SQLite stores do not need psycopg imported
    from receiver.store.pg_pool import Conn

T = TypeVar("T")

OPEN, SENT = "open", "sent"
GROUP_COLUMNS = (
    "id, rule, action_index, sink_id, group_key, state, first_at, last_at, due_at, members, sent_at, delivery_id"
)

# One statement opens the group or counts the member in: the partial unique index
# (groups_open) allows one open group per key.
UPSERT = (
    "INSERT INTO groups (id, rule, action_index, sink_id, group_key, state, first_at, last_at, due_at, members) "
    f"VALUES (?, ?, ?, ?, ?, '{OPEN}', ?, ?, ?, 1) "
    f"ON CONFLICT (rule, action_index, group_key) WHERE state = '{OPEN}' "
    "DO UPDATE SET members = groups.members + 1, last_at = excluded.last_at RETURNING id, members"
)
ADD_MEMBER = "INSERT INTO group_members (group_id, position, event_id, joined_at) VALUES (?, ?, ?, ?)"
DUE = f"SELECT {GROUP_COLUMNS} FROM groups WHERE state = '{OPEN}' AND due_at <= ? ORDER BY due_at LIMIT ?"
LAST_SENT = (
    f"SELECT MAX(sent_at) FROM groups WHERE rule = ? AND action_index = ? AND group_key = ? AND state = '{SENT}'"
)
POSTPONE = f"UPDATE groups SET due_at = ? WHERE id = ? AND state = '{OPEN}'"
# Oldest first: in the order they joined.
MEMBERS = (
    "SELECT m.event_id, e.envelope FROM group_members m JOIN events e ON e.id = m.event_id "
    "WHERE m.group_id = ? ORDER BY m.position"
)
MARK_SENT = f"UPDATE groups SET state = '{SENT}', sent_at = ?, delivery_id = ? WHERE id = ? AND state = '{OPEN}'"
BY_DELIVERY = f"SELECT {GROUP_COLUMNS} FROM groups WHERE delivery_id = ?"
MEMBER_IDS = "SELECT event_id FROM group_members WHERE group_id = ? ORDER BY position LIMIT ?"
OPEN_GROUPS = f"SELECT {GROUP_COLUMNS} FROM groups WHERE state = '{OPEN}' ORDER BY due_at LIMIT ?"


@dataclass(frozen=True)
class GroupRow:
    id: str
    rule: str
    action_index: int
    sink_id: str
    key: str
    state: str
    first_at: float
    last_at: float
    due_at: float
    members: int
    sent_at: float | None
    delivery_id: str | None


def group_row(r: Sequence[Any]) -> GroupRow:
    return GroupRow(*r)


@dataclass(frozen=True)
class Member:
    event_id: str
    envelope: dict[str, Any]


class GroupRenderer(Protocol):
    """What a flush asks of the rules, inside its transaction (pure: no I/O)."""

    def interval(self, group: GroupRow) -> float:
        """Seconds a follow-up of ``group``'s key waits after the previous send."""

    def render(self, group: GroupRow, members: Sequence[Member]) -> NewDelivery:
        """The group's one delivery (queued, or dead with the reason it cannot be rendered)."""


@dataclass(frozen=True)
class Flushed:
    """What a flush did with a due group: sent it as ``delivery`` with its ``count`` members
    (None: it had no member left), or postponed it to ``until``."""

    group: GroupRow
    delivery: NewDelivery | None = None
    until: float | None = None
    count: int = 0  # members sent


def join(event_id: str, now: float, grouped: Sequence[NewDelivery]) -> Steps[int]:
    """``event_id`` joins the open group of each grouped action (``NewDelivery.group``);
    returns how many groups it opened."""
    opened = 0
    for d in grouped:
        assert d.group is not None
        args = (d.id, d.rule, d.action_index, d.sink_id, d.group.key, now, now, now + d.group.wait)
        group_id, members = rows((yield Statement(UPSERT, args, True)))[0]
        opened += members == 1
        yield Statement(ADD_MEMBER, (group_id, members, event_id, now), False)
    return opened


# Members one flush transaction reads at most (then it commits; the flusher goes on with another):
# reading and rendering takes ~13 µs per member, and on SQLite every other write waits meanwhile.
MEMBER_BUDGET = 20_000


def flush(
    now: float, limit: int, renderer: GroupRenderer, decode: Callable[[Any], Any], lock: str = ""
) -> Steps[list[Flushed]]:
    """Send or postpone up to ``limit`` due groups (``lock``: PostgreSQL's row locks), stopping
    early once ``MEMBER_BUDGET`` members were read (the rest stay due)."""
    due = [group_row(r) for r in rows((yield Statement(DUE + lock, (now, limit), True)))]
    out: list[Flushed] = []
    for group in due:
        if sum(f.count for f in out) >= MEMBER_BUDGET:
            break
        last = rows((yield Statement(LAST_SENT, (group.rule, group.action_index, group.key), True)))[0][0]
        if last is not None and last + renderer.interval(group) > now:
            until = last + renderer.interval(group)
            yield Statement(POSTPONE, (until, group.id), False)
            out.append(Flushed(group, until=until))
            continue
        members = [Member(i, decode(e)) for i, e in rows((yield Statement(MEMBERS, (group.id,), True)))]
        delivery = renderer.render(group, members) if members else None
        if delivery is not None:
            yield Statement(INSERT_DELIVERY, delivery_args(delivery, members[-1].event_id, now), False)
        yield Statement(MARK_SENT, (now, delivery.id if delivery else None, group.id), False)
        out.append(Flushed(group, delivery, count=len(members)))
    return out


# -- the two backends (mixed into the stores) ------------------------------------------------


def grouped(deliveries: Sequence[NewDelivery]) -> tuple[Sequence[NewDelivery], list[NewDelivery]]:
    """(plain deliveries, grouped actions' joins); the plain ones are ``deliveries`` itself when
    nothing is grouped (the common case costs one scan, no copy)."""
    if all(d.group is None for d in deliveries):
        return deliveries, []
    return [d for d in deliveries if d.group is None], [d for d in deliveries if d.group is not None]


class SqliteGroups:
    """The group reads and the flush of :class:`~receiver.store.sqlite.SqliteStore`."""

    if TYPE_CHECKING:  # provided by SqliteStore

        async def write(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def flush_groups(self, now: float, limit: int, renderer: GroupRenderer) -> list[Flushed]:
        # Durable: the delivery it queues is what a restart must find (members are never sent twice).
        return await self.write(lambda conn: drive_sqlite(conn, flush(now, limit, renderer, jsonutil.loads)))

    async def group_of_delivery(self, delivery_id: str) -> GroupRow | None:
        def q(conn: sqlite3.Connection) -> GroupRow | None:
            r = conn.execute(BY_DELIVERY, (delivery_id,)).fetchone()
            return group_row(r) if r else None

        return await self._read(q)

    async def group_member_ids(self, group_id: str, limit: int) -> list[str]:
        return await self._read(lambda conn: [i for (i,) in conn.execute(MEMBER_IDS, (group_id, limit))])

    async def open_groups(self, limit: int) -> list[GroupRow]:
        return await self._read(lambda conn: [group_row(r) for r in conn.execute(OPEN_GROUPS, (limit,))])


class PostgresGroups:
    """The same on PostgreSQL."""

    if TYPE_CHECKING:  # provided by PostgresStore

        async def write(self, op: Callable[[Conn], Awaitable[T]]) -> T: ...

        async def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def flush_groups(self, now: float, limit: int, renderer: GroupRenderer) -> list[Flushed]:
        steps = flush(now, limit, renderer, _as_is, lock=" FOR UPDATE SKIP LOCKED")
        return await self.write(lambda conn: drive_postgres(conn, steps))

    async def group_of_delivery(self, delivery_id: str) -> GroupRow | None:
        found = await self._read(pg(BY_DELIVERY), (delivery_id,))
        return group_row(found[0]) if found else None

    async def group_member_ids(self, group_id: str, limit: int) -> list[str]:
        return [i for (i,) in await self._read(pg(MEMBER_IDS), (group_id, limit))]

    async def open_groups(self, limit: int) -> list[GroupRow]:
        return [group_row(r) for r in await self._read(pg(OPEN_GROUPS), (limit,))]


def _as_is(value: Any) -> Any:
    """psycopg already decodes json columns."""
    return value
