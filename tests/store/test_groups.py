"""Groups in the store (``receiver/store/groups.py``): joining in the event's transaction, the
flush that sends each due group once. Every test runs against SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from receiver.store import Store, groups, retention
from receiver.store.base import AttemptRow, DeliveryQuery, DeliveryState, GroupJoin, NewDelivery, Outcome
from receiver.store.groups import GroupRow, Member
from receiver.store.retention import Pruned, retention_ops
from tests.store.conftest import Backend
from tests.store.test_contract import event
from tests.store.test_retention import table_rows


def joining(id: str, key: str = '["run_1"]', *, wait: float = 30.0, rule: str = "burst") -> NewDelivery:
    """A grouped action's share of an event, as ``Router.plan`` makes it."""
    return NewDelivery(id, rule, 0, "slack", None, None, group=GroupJoin(key, wait))


@dataclass
class Renderer:
    """Renders a group as the ids of its members (the rules side is tested in tests/delivery)."""

    interval_seconds: float = 300.0
    seen: list[tuple[str, list[str]]] = field(default_factory=list)

    def interval(self, group: GroupRow) -> float:
        return self.interval_seconds

    def render(self, group: GroupRow, members: Sequence[Member]) -> NewDelivery:
        ids = [m.event_id for m in members]
        self.seen.append((group.key, ids))
        return NewDelivery(f"dlv_{group.id}", group.rule, group.action_index, group.sink_id, None, {"ids": ids})


async def save(store: Store, event_id: str, t: float, *joins: NewDelivery) -> int:
    result = await store.save_event(event(event_id, t=t), list(joins))
    return result.groups_opened


def test_members_join_one_open_group_per_key_and_it_is_sent_once_when_due(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await save(store, "evt_1", 1000.0, joining("grp_a")) == 1
        assert await save(store, "evt_2", 1005.0, joining("grp_b")) == 0  # joins grp_a
        assert await save(store, "evt_3", 1006.0, joining("grp_c", '["run_2"]')) == 1
        [a, c] = await store.open_groups(10)
        assert (a.id, a.members, a.due_at, a.first_at, a.last_at) == ("grp_a", 2, 1030.0, 1000.0, 1005.0)
        assert (c.id, c.key, c.due_at) == ("grp_c", '["run_2"]', 1036.0)
        r = Renderer()
        assert await store.flush_groups(1029.9, 10, r) == []
        [sent] = await store.flush_groups(1030.0, 10, r)
        assert (sent.group.id, sent.count, sent.delivery is not None) == ("grp_a", 2, True)
        assert r.seen == [('["run_1"]', ["evt_1", "evt_2"])]
        [d] = await store.list_deliveries(DeliveryQuery())
        # The one delivery hangs off the latest member and is queued like any other.
        assert (d.id, d.event_id, d.params, d.state) == ("dlv_grp_a", "evt_2", {"ids": ["evt_1", "evt_2"]},
                                                         DeliveryState.QUEUED)  # fmt: skip
        assert [g.id for g in await store.open_groups(10)] == ["grp_c"]
        assert await store.flush_groups(1031.0, 10, r) == []  # never twice
        found = await store.group_of_delivery("dlv_grp_a")
        assert found is not None and (found.state, found.sent_at, found.members) == ("sent", 1030.0, 2)
        assert await store.group_member_ids("grp_a", 10) == ["evt_1", "evt_2"]
        assert await store.group_member_ids("grp_a", 1) == ["evt_1"]
        assert await store.group_of_delivery("dlv_nope") is None

    backend.run(body)


def test_a_late_member_opens_a_follow_up_due_no_sooner_than_interval_after_the_send(backend: Backend) -> None:
    async def body(store: Store) -> None:
        r = Renderer(interval_seconds=300.0)
        await save(store, "evt_1", 1000.0, joining("grp_1"))
        [first] = await store.flush_groups(1030.0, 10, r)
        assert first.delivery is not None
        assert await save(store, "evt_2", 1040.0, joining("grp_2")) == 1  # the sent group takes no one
        [postponed] = await store.flush_groups(1070.0, 10, r)  # its own wait is over, the interval is not
        assert (postponed.group.id, postponed.delivery, postponed.until) == ("grp_2", None, 1330.0)
        await save(store, "evt_3", 1200.0, joining("grp_3"))  # still the open follow-up
        assert await store.flush_groups(1329.0, 10, r) == []
        [second] = await store.flush_groups(1330.0, 10, r)
        assert (second.group.id, second.count) == ("grp_2", 2)
        assert r.seen[-1] == ('["run_1"]', ["evt_2", "evt_3"])

    backend.run(body)


def test_a_flush_takes_at_most_limit_groups_oldest_due_first(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for i in range(5):
            await save(store, f"evt_{i}", 1000.0 + i, joining(f"grp_{i}", f'["run_{i}"]'))
        r = Renderer()
        first = await store.flush_groups(2000.0, 2, r)
        assert [f.group.id for f in first] == ["grp_0", "grp_1"]
        rest = await store.flush_groups(2000.0, 10, r)
        assert [f.group.id for f in rest] == ["grp_2", "grp_3", "grp_4"]

    backend.run(body)


def test_a_redelivered_event_joins_nothing(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", keys=("id:d1",)), [joining("grp_1")])
        again = await store.save_event(event("evt_2", keys=("id:d1",)), [joining("grp_2")])
        assert again.duplicate
        [g] = await store.open_groups(10)
        assert g.members == 1

    backend.run(body)


@pytest.mark.parametrize("flushers", [2, 4])
def test_concurrent_flushes_and_joins_send_every_member_exactly_once(backend: Backend, flushers: int) -> None:
    """Joins racing several flushers: every member lands in exactly one sent group, no group twice."""

    async def body(store: Store) -> None:
        r = Renderer(interval_seconds=0.0)

        async def joins() -> None:
            for i in range(60):
                await save(store, f"evt_{i:03d}", 1000.0 + i, joining(f"grp_{i:03d}", wait=0.0))

        async def flusher() -> None:
            for _ in range(40):
                await store.flush_groups(5000.0, 4, r)
                await asyncio.sleep(0)

        await asyncio.gather(joins(), *(flusher() for _ in range(flushers)))
        while await store.flush_groups(5000.0, 100, r):
            pass
        members = [i for _, ids in r.seen for i in ids]
        assert sorted(members) == [f"evt_{i:03d}" for i in range(60)]
        deliveries = await store.list_deliveries(DeliveryQuery(limit=1000))
        assert len(deliveries) == len(r.seen)
        assert await store.open_groups(10) == []

    backend.run(body)


def test_retention_prunes_a_sent_group_with_its_delivery_and_keeps_an_open_one(backend: Backend) -> None:
    async def body(store: Store) -> None:
        day = 86_400.0
        await save(store, "evt_1", 1000.0, joining("grp_1"))
        await save(store, "evt_2", 1001.0, joining("grp_2"))
        [sent] = await store.flush_groups(1030.0, 10, Renderer())
        assert sent.delivery is not None
        claimed = await store.claim_due(1030.0, 10, 60.0, "w1")
        assert [c.delivery.id for c in claimed] == [sent.delivery.id]
        attempt = AttemptRow(sent.delivery.id, 1, 1030.0, 1031.0, 5.0, "succeeded", 200, None, None, None)
        assert await store.finish(sent.delivery.id, "w1", Outcome(attempt, DeliveryState.SUCCEEDED))
        await save(store, "evt_3", 40 * day, joining("grp_3"))  # a young follow-up, still open
        await retention_ops(store).prune_events(30 * day, 500)
        assert await store.group_of_delivery(sent.delivery.id) is None
        [open_group] = await store.open_groups(10)
        assert (open_group.id, await store.group_member_ids(open_group.id, 10)) == ("grp_3", ["evt_3"])
        assert await table_rows(store, "groups") == 1
        assert await table_rows(store, "group_members") == 1

    backend.run(body)


async def delete_events(store: Any, ids: list[str]) -> int:
    """Retention's own DELETE of events, on its own (the last step of a batch)."""
    if store.backend == "sqlite":
        sql = retention._DELETE_EVENTS.format(ids=f"IN ({', '.join('?' * len(ids))})")
        return int(await store.write(lambda c: c.execute(sql, ids).rowcount))

    async def op(conn: Any) -> int:
        return int((await conn.execute(retention._PG["events"], (ids,))).rowcount)

    return int(await store.write(op))


def test_retention_keeps_an_old_member_of_a_group_not_yet_sent_until_its_delivery_ends(backend: Backend) -> None:
    async def body(store: Store) -> None:
        day, ops = 86_400.0, retention_ops(store)
        # An old event in a group still open (its flusher was down, or a long wait), and an old
        # event that joined nothing: only the latter goes.
        await save(store, "evt_member", 1000.0, joining("grp_1"))
        await save(store, "evt_loner", 1000.0)
        assert await ops.prune_events(30 * day, 500) == Pruned(events=1)
        assert await store.group_member_ids("grp_1", 10) == ["evt_member"]
        # A PostgreSQL pruner that picked the event before it joined (a replay) checks again as it deletes.
        assert await delete_events(store, ["evt_member"]) == 0
        # Flushed: its one delivery has every member; once that ends, they go together.
        [sent] = await store.flush_groups(40 * day, 10, Renderer())
        assert sent.delivery is not None and sent.delivery.params == {"ids": ["evt_member"]}
        assert await ops.prune_events(30 * day, 500) == Pruned()  # the delivery is queued
        [claimed] = await store.claim_due(40 * day, 10, 60.0, "w1")
        attempt = AttemptRow(claimed.delivery.id, 1, 40 * day, 40 * day, 5.0, "succeeded", 200, None, None, None)
        assert await store.finish(claimed.delivery.id, "w1", Outcome(attempt, DeliveryState.SUCCEEDED))
        assert await ops.prune_events(30 * day, 500) == Pruned(events=1, deliveries=1, attempts=1)
        assert await table_rows(store, "groups") == 0 and await table_rows(store, "group_members") == 0

    backend.run(body)


def test_a_flush_stops_after_its_member_budget_and_the_rest_stay_due(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(groups, "MEMBER_BUDGET", 3)

    async def body(store: Store) -> None:
        for i in range(6):
            await save(store, f"evt_{i}", 1000.0 + i, joining(f"grp_{i}", f'["run_{i // 2}"]'))
        r = Renderer()
        first = await store.flush_groups(2000.0, 10, r)
        assert [(f.group.key, f.count) for f in first] == [('["run_0"]', 2), ('["run_1"]', 2)]
        assert [(f.group.key, f.count) for f in await store.flush_groups(2000.0, 10, r)] == [('["run_2"]', 2)]

    backend.run(body)
