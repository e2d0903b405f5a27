"""The store contract of the delivery log page (event filters through deliveries, delivery
summaries, bulk retry, shared keys, sessions): every test runs against SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from receiver.store import Store
from receiver.store.base import NO_DELIVERIES, NOT_SUCCEEDED, DeliveryState, EventQuery, NewEvent, Outcome
from tests.store.conftest import Backend
from tests.store.test_contract import attempt, claim_one, delivery, event

S = DeliveryState


def run_event(id: str, type: str, outcome: str | None, t: float) -> NewEvent:
    ev = event(id, type=type, t=t)
    return dataclasses.replace(ev, envelope={**ev.envelope, "data": {"run": {"name": id, "outcome": outcome}}})


async def _seed(store: Store) -> None:
    """evt_1 run.failed → slack dead, github succeeded; evt_2 run.failed → slack dead only;
    evt_3 run.passed → no deliveries; evt_4 test.done (no run) → slack queued; evt_5 run_x.y (LIKE '_')."""
    await store.save_event(
        run_event("evt_1", "run.failed", "failed", 100.0),
        [delivery("dlv_1a", state=S.DEAD), delivery("dlv_1b", sink_id="github", rule="status", state=S.SUCCEEDED)],
    )
    await store.save_event(run_event("evt_2", "run.failed", "failed", 200.0), [delivery("dlv_2a", state=S.DEAD)])
    await store.save_event(run_event("evt_3", "run.passed", "passed", 300.0))
    await store.save_event(event("evt_4", type="test.done", t=400.0), [delivery("dlv_4a")])
    await store.save_event(run_event("evt_5", "runXx.y", None, 500.0))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (EventQuery(type="run.*"), ["evt_3", "evt_2", "evt_1"]),
        (EventQuery(type="run.fail?d"), ["evt_2", "evt_1"]),
        (EventQuery(type="run_*"), []),  # LIKE's own wildcards are plain characters
        (EventQuery(type="*.y"), ["evt_5"]),
        (EventQuery(type="run.failed"), ["evt_2", "evt_1"]),
        (EventQuery(outcome="failed"), ["evt_2", "evt_1"]),
        (EventQuery(outcome="passed"), ["evt_3"]),
        (EventQuery(sink="github"), ["evt_1"]),
        (EventQuery(rule="status"), ["evt_1"]),
        (EventQuery(delivery="dead"), ["evt_2", "evt_1"]),
        (EventQuery(delivery="queued"), ["evt_4"]),
        (EventQuery(sink="github", delivery="dead"), []),  # the same delivery must meet both
        (EventQuery(delivery=NO_DELIVERIES), ["evt_5", "evt_3"]),
        (EventQuery(sink="github", delivery=NO_DELIVERIES), ["evt_5", "evt_4", "evt_3", "evt_2"]),
        # Which failed runs notified nobody?
        (EventQuery(outcome="failed", delivery=NOT_SUCCEEDED), ["evt_2"]),
        (EventQuery(type="run.*", delivery=NOT_SUCCEEDED, before_id="evt_3"), ["evt_2"]),
    ],
)
def test_list_events_through_deliveries_and_outcome(backend: Backend, query: EventQuery, expected: list[str]) -> None:
    async def body(store: Store) -> None:
        await _seed(store)
        assert [r.id for r in await store.list_events(query)] == expected

    backend.run(body)


def test_delivery_states_dead_by_sink_and_requeue_dead(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await _seed(store)
        assert await store.event_delivery_states(["evt_1", "evt_2", "evt_3", "evt_missing"]) == {
            "evt_1": {"dead": 1, "succeeded": 1},
            "evt_2": {"dead": 1},
        }
        assert await store.event_delivery_states([]) == {}
        assert await store.dead_by_sink() == {"slack": 2}
        assert await store.requeue_dead("github", 900.0) == 0
        assert await store.requeue_dead("slack", 900.0) == 2
        assert await store.dead_by_sink() == {}
        row = await store.get_delivery("dlv_2a")
        assert row is not None and (row.state, row.attempts, row.next_attempt_at, row.budget_start) == (
            S.QUEUED, 0, 900.0, 900.0,
        )  # fmt: skip
        await claim_one(store, "dlv_2a", 900.0)
        succeeded = await store.get_delivery("dlv_1b")
        assert succeeded is not None and succeeded.state == S.SUCCEEDED  # other sinks untouched
        await store.finish("dlv_2a", "w1", Outcome(attempt("dlv_2a", 900.0), S.DEAD, None, "gave up"))
        assert await store.dead_by_sink() == {"slack": 1}

    backend.run(body)


def test_web_key_is_made_once(backend: Backend) -> None:
    async def body(store: Store) -> None:
        web: Any = store
        assert await web.web_key("csrf", "first", 1.0) == "first"
        assert await web.web_key("csrf", "second", 2.0) == "first"
        assert await web.web_key("other", "third", 3.0) == "third"

    async def again(store: Store) -> None:
        web: Any = store
        assert await web.web_key("csrf", "fourth", 4.0) == "first"

    backend.run(body)
    backend.run(again)  # a restart (or another process) gets the same key


def test_sessions_expire_and_end(backend: Backend) -> None:
    async def body(store: Store) -> None:
        web: Any = store
        await web.add_session("a" * 64, 1000.0, 2000.0)
        await web.add_session("b" * 64, 1000.0, 5000.0)
        assert [await web.session_alive(h, 1500.0) for h in ("a" * 64, "b" * 64, "c" * 64)] == [True, True, False]
        assert await web.session_alive("a" * 64, 2000.0) is False  # expired
        await web.end_session("b" * 64)
        assert await web.session_alive("b" * 64, 1500.0) is False
        # Adding one forgets the expired ones.
        await web.add_session("c" * 64, 3000.0, 9000.0)
        assert await web.session_alive("a" * 64, 1500.0) is False
        assert await web.session_alive("c" * 64, 3000.0) is True

    backend.run(body)
