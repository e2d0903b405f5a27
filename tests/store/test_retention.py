"""Retention statements (receiver/store/retention.py) on SQLite and a real PostgreSQL, with a
fake clock: what one batch deletes and what it keeps."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from typing import Any

import pytest

from receiver.ids import new_id
from receiver.runs.track import save
from receiver.store import Store, open_store
from receiver.store.base import DeliveryQuery, DeliveryState, Outcome
from receiver.store.retention import Pruned, retention_ops, time_floor_id
from receiver.store.runs import RunQuery
from tests.runs.helpers import envelope, new_event, no_rules
from tests.store.conftest import Backend
from tests.store.test_contract import attempt, claim_one, delivery, event

S = DeliveryState
DAY = 86_400.0
OLD, YOUNG = 1_000.0, 1_000.0 + 40 * DAY  # the horizon below sits between them
HORIZON = 1_000.0 + 30 * DAY


async def table_rows(store: Any, table: str) -> int:
    if store.backend == "sqlite":
        return int(await store._read(lambda c: c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))
    return int((await store._read(f"SELECT COUNT(*) FROM {table}"))[0][0])


def test_an_old_event_goes_with_its_body_keys_deliveries_and_attempts(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("e-old", t=OLD, keys=("id:1", "sig:1")), [delivery("d-old")])
        await claim_one(store, "d-old", OLD)
        assert await store.finish("d-old", "w1", Outcome(attempt("d-old", OLD, "succeeded"), S.SUCCEEDED))
        await store.save_event(event("e-young", t=YOUNG, keys=("id:2",)), [delivery("d-young", state=S.SUCCEEDED)])

        pruned = await retention_ops(store).prune_events(HORIZON, 500)

        assert pruned == Pruned(events=1, deliveries=1, attempts=1, event_keys=2)
        assert await store.get_event("e-old") is None
        assert await store.get_delivery("d-old") is None
        assert (await store.attempts_for(["d-old"]))["d-old"] == []
        assert await store.get_event("e-young") is not None and await store.get_delivery("d-young") is not None
        assert await table_rows(store, "event_keys") == 1
        # Its redelivery keys went with it: the same delivery id later is a new event, not a duplicate.
        assert not (await store.save_event(event("e-again", t=YOUNG, keys=("id:1",)))).duplicate
        # Idempotent: a second batch finds nothing.
        assert await retention_ops(store).prune_events(HORIZON, 500) == Pruned()

    backend.run(body)


@pytest.mark.parametrize(
    ("states", "kept"),
    [
        ((), False),
        ((S.SUCCEEDED,), False),
        ((S.DEAD,), False),
        ((S.SUPERSEDED,), False),
        ((S.QUEUED,), True),
        ((S.RETRYING,), True),
        ((S.IN_PROGRESS,), True),
        ((S.SUCCEEDED, S.RETRYING), True),  # one unfinished delivery keeps the event and all its deliveries
        ((S.DEAD, S.SUCCEEDED, S.SUPERSEDED), False),
    ],
    ids=lambda v: "-".join(s.value for s in v) or "none" if isinstance(v, tuple) else ("kept" if v else "pruned"),
)
def test_an_event_stays_while_a_delivery_is_not_final(backend: Backend, states: tuple[S, ...], kept: bool) -> None:
    async def body(store: Store) -> None:
        ids = [f"d{i}" for i in range(len(states))]
        await store.save_event(event("e1", t=OLD), [delivery(d, state=s) for d, s in zip(ids, states, strict=True)])

        pruned = await retention_ops(store).prune_events(HORIZON, 500)

        assert (await store.get_event("e1") is not None) is kept
        left = [d.id for d in await store.list_deliveries(DeliveryQuery(limit=100))]
        assert sorted(left) == (ids if kept else [])
        assert pruned == (Pruned() if kept else Pruned(events=1, deliveries=len(states)))

    backend.run(body)


def test_a_delivery_claimed_by_a_dispatcher_keeps_its_event(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("e1", t=OLD), [delivery("d1")])
        await claim_one(store, "d1", YOUNG)  # in flight: its lease is running
        assert await retention_ops(store).prune_events(HORIZON, 500) == Pruned()
        assert await store.finish("d1", "w1", Outcome(attempt("d1", YOUNG, "succeeded"), S.SUCCEEDED))
        assert await retention_ops(store).prune_events(HORIZON, 500) == Pruned(events=1, deliveries=1, attempts=1)

    backend.run(body)


def test_parent_and_child_events_are_judged_each_by_its_own_age(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("parent", t=OLD), [delivery("d-parent", state=S.SUCCEEDED, emit="answer")])
        # A derived event of the parent, made later (a retried follow-up), and an old one still being sent.
        await store.save_event(event("child", t=YOUNG, parent_id="parent", correlation_id="parent"))
        await store.save_event(event("old-child", t=OLD + 1, parent_id="parent"), [delivery("d-child")])

        assert await retention_ops(store).prune_events(HORIZON, 500) == Pruned(events=1, deliveries=1)

        assert await store.get_event("parent") is None
        child = await store.get_event("child")
        assert child is not None and child.parent_id == "parent"  # the page shows it without its parent
        assert await store.get_event("old-child") is not None and await store.get_delivery("d-child") is not None

    backend.run(body)


def test_batches_are_bounded_oldest_first(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for i in range(7):
            await store.save_event(event(f"e{i}", t=OLD + i), [delivery(f"d{i}", state=S.DEAD)])
        ops = retention_ops(store)
        sizes = [(await ops.prune_events(HORIZON, 3))["events"] for _ in range(4)]
        assert sizes == [3, 3, 1, 0]

    backend.run(body)


def test_two_pruners_at_once_delete_each_event_once(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for i in range(40):
            await store.save_event(event(f"e{i:02}", t=OLD + i), [delivery(f"d{i:02}", state=S.SUCCEEDED)])
        other: Any = open_store(backend.url, clock=backend.clock)
        await other.open()
        try:
            mine, theirs = retention_ops(store), retention_ops(other)

            async def drain(ops: Any) -> Pruned:
                total = Pruned()
                while (batch := await ops.prune_events(HORIZON, 4))["events"]:
                    total.update(batch)
                    await asyncio.sleep(0)
                return total

            a, b = await asyncio.gather(drain(mine), drain(theirs))
        finally:
            await other.close()
        assert a["events"] + b["events"] == 40 and a["deliveries"] + b["deliveries"] == 40
        assert await store.count_events() == 0

    backend.run(body)


_TICK = itertools.count()


async def run_event(store: Store, run_id: str, type: str, at: float, **values: Any) -> str:
    env = envelope(new_id("evt", at) + str(next(_TICK)), type, run_id=run_id, **values)
    result, _ = await save(store, dataclasses.replace(new_event(env), received_at=at), no_rules, at)
    return result.event_id


def test_runs_outlive_their_events_and_go_at_their_own_horizon(backend: Backend) -> None:
    async def body(store: Store) -> None:
        first = await run_event(store, "r-old", "run.started", OLD, status="running")
        await run_event(store, "r-old", "run.completed", OLD + 60, status="completed", outcome="passed")
        young = await run_event(store, "r-young", "run.started", YOUNG, status="running")
        ops = retention_ops(store)
        keys = {r.run_id: r.key for r in await store.list_runs(RunQuery())}  # type: ignore[attr-defined]

        # The events horizon: both events of the old run go, with their run links; the run stays.
        assert await ops.prune_events(HORIZON, 500) == Pruned(events=2, run_events=2)
        assert await store.get_event(first) is None
        assert await store.get_run(keys["r-old"]) is not None  # type: ignore[attr-defined]
        assert await store.run_events(keys["r-old"], 10) == []  # type: ignore[attr-defined]
        assert [e.id for e in await store.run_events(keys["r-young"], 10)] == [young]  # type: ignore[attr-defined]
        assert await ops.prune_runs(HORIZON - 335 * DAY, 500) == Pruned()  # the runs horizon: a year

        # A year later: the old run goes; the young one stays.
        assert await ops.prune_runs(OLD + DAY, 500) == Pruned(runs=1)
        assert await store.get_run(keys["r-old"]) is None  # type: ignore[attr-defined]
        assert await ops.prune_runs(YOUNG + 365 * DAY + 1, 500) == Pruned(runs=1, run_events=1)
        assert await store.list_runs(RunQuery()) == []  # type: ignore[attr-defined]

    backend.run(body)


def test_a_run_made_long_ago_but_updated_since_stays(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await run_event(store, "r-1", "run.started", OLD, status="running")
        await run_event(store, "r-1", "run.completed", YOUNG, status="completed", outcome="passed")
        assert await retention_ops(store).prune_runs(YOUNG - 1, 500) == Pruned()
        assert await retention_ops(store).prune_runs(YOUNG + 1, 500) == Pruned(runs=1, run_events=2)

    backend.run(body)


def test_expired_web_sessions_go(backend: Backend) -> None:
    async def body(store: Any) -> None:
        await store.add_session("a" * 64, OLD, OLD + 60)
        await store.add_session("b" * 64, OLD, YOUNG + 60)
        assert await retention_ops(store).drop_sessions(YOUNG) == Pruned(web_sessions=1)
        assert await store.session_alive("b" * 64, YOUNG)

    backend.run(body)


@pytest.mark.parametrize("t", [0.0, 1_000.0005, 1_770_000_000.123, 4_102_444_800.999])
def test_time_floor_id_bounds_the_ids_new_id_makes(t: float) -> None:
    made = new_id("run", t)
    # An id made before a time (in an earlier millisecond) sorts below that time's floor.
    assert time_floor_id("run", t) <= made < time_floor_id("run", t + 0.002)
    assert len(time_floor_id("run", t)) == len(made)
