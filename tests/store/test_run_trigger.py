"""A run Hookyard started, recorded with the success of the call that started it
(receiver/store/runs_trigger.py), on SQLite and a real PostgreSQL: the new queued row, the run's
webhooks finding and inheriting it, a webhook that raced ahead, and a success recorded twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from receiver.store import Store
from receiver.store.base import DeliveryState, Outcome
from receiver.store.runs import RunQuery, RunRow, TriggeredRun
from tests.runs.helpers import DONE, STARTED, envelope
from tests.store.conftest import Backend
from tests.store.test_contract import attempt, delivery, event
from tests.store.test_runs import put

TRIGGER_GIT = {"repo": "acme/shop", "sha": "abc123", "branch": "main", "pr": 42}
STARTED_RUN = TriggeredRun(
    source_id="fus", run_id="r-1", platform="fusillade", repo="acme/shop", sha="abc123", branch="main", pr=42,
    correlation_id="evt_root", trigger_event_id="evt_1", trigger_delivery_id="dlv_1", now=1001.0,
)  # fmt: skip


async def record(store: Store, run: TriggeredRun, delivery_id: str = "dlv_1", owner: str = "w1") -> bool:
    """The dispatcher's success of ``delivery_id`` (stored and claimed here) that started ``run``."""
    await store.save_event(event(f"evt_{delivery_id}", t=1000.0), [delivery(delivery_id, sink_id="fusillade-api")])
    await store.claim_due(1000.0, 10, 30, "w1")
    outcome = Outcome(attempt(delivery_id, 1001.0, "succeeded"), DeliveryState.SUCCEEDED, started_run=run)
    return await store.finish(delivery_id, owner, outcome)


async def runs(store: Store) -> list[RunRow]:
    return await store.list_runs(RunQuery(limit=10))


def git(row: RunRow) -> dict[str, Any]:
    return {"repo": row.repo, "sha": row.sha, "branch": row.branch, "pr": row.pr}


def test_trigger_creates_a_queued_run_its_webhooks_inherit(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await record(store, STARTED_RUN)
        (row,) = await runs(store)
        assert (row.source_id, row.run_id, row.platform, row.status, row.final) == ("fus", "r-1", "fusillade",
                                                                                   "queued", False)  # fmt: skip
        assert git(row) == TRIGGER_GIT
        assert (row.trigger_event_id, row.trigger_delivery_id, row.correlation_id, row.trigger_sha) == (
            "evt_1", "dlv_1", "evt_root", "abc123",
        )  # fmt: skip
        # The run's webhooks (no commit: Fusillade sends none) find the row and carry its commit.
        for n, (event_id, type, values) in enumerate((STARTED, DONE)):
            assert await put(store, envelope(f"{event_id}-{n}", type, **values))
            stored = await store.get_event(f"{event_id}-{n}")
            assert stored is not None
            assert stored.envelope["data"]["git"] == {**TRIGGER_GIT, "inferred_from": "trigger"}
            assert stored.envelope["data"]["run"]["key"] == row.key
        (done,) = await runs(store)
        assert (done.key, done.status, done.outcome, done.final) == (row.key, "completed", "failed", True)
        assert git(done) == TRIGGER_GIT and done.trigger_delivery_id == "dlv_1"

    backend.run(body)


def test_webhook_raced_ahead_keeps_what_the_platform_said(backend: Backend) -> None:
    async def body(store: Store) -> None:
        # The platform reported the run (running, with its own commit) before the trigger's success was recorded.
        platform_git = {"repo": None, "sha": "fff999", "branch": None, "pr": None}
        assert await put(store, envelope("e-early", "run.started", status="running", git=platform_git))
        (early,) = await runs(store)
        assert await record(store, STARTED_RUN)
        (row,) = await runs(store)
        assert (row.key, row.status, row.first_event_id) == (early.key, "running", "e-early")
        assert git(row) == {**TRIGGER_GIT, "sha": "fff999"}  # only the unknown fields came from the trigger
        assert (row.trigger_event_id, row.trigger_delivery_id, row.correlation_id) == ("evt_1", "dlv_1", "evt_root")
        # The commit is the platform's, not the trigger's: a later event says it came from the run.
        assert await put(store, envelope("e-late", "run.completed", status="completed", outcome="passed"))
        late = await store.get_event("e-late")
        assert late is not None and late.envelope["data"]["git"]["inferred_from"] == "run"
        assert late.envelope["data"]["git"]["sha"] == "fff999"

    backend.run(body)


def test_a_success_recorded_twice_creates_one_run(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await record(store, STARTED_RUN, "dlv_1")
        (first,) = await runs(store)
        # The same answer recorded again (the send repeated after a crash before its commit).
        assert await record(store, replace(STARTED_RUN, now=1005.0), "dlv_2")
        (again,) = await runs(store)
        assert replace(again, updated_at=first.updated_at) == first
        # A finish that lost its lease records no run.
        assert not await record(store, replace(STARTED_RUN, run_id="r-2"), "dlv_3", owner="nobody")
        assert [r.run_id for r in await runs(store)] == ["r-1"]

    backend.run(body)


def test_trigger_and_webhook_racing_end_in_one_row_each(backend: Backend) -> None:
    """Several receivers and the dispatcher at once: each run's trigger and first webhook race
    (on PostgreSQL a lost first insert merges into the winner's row, on either side)."""
    n = 12

    async def body(store: Store) -> None:
        for i in range(n):
            await store.save_event(event(f"evt_{i}", t=1000.0), [delivery(f"dlv_{i}", sink_id="fusillade-api")])
        assert len(await store.claim_due(1000.0, 100, 30, "w1")) == n

        async def trigger(i: int) -> bool:
            run = replace(STARTED_RUN, run_id=f"r-{i}", trigger_event_id=f"evt_{i}", trigger_delivery_id=f"dlv_{i}")
            outcome = Outcome(attempt(f"dlv_{i}", 1001.0, "succeeded"), DeliveryState.SUCCEEDED, started_run=run)
            return await store.finish(f"dlv_{i}", "w1", outcome)

        async def webhook(i: int) -> bool:
            return await put(store, envelope(f"e-{i}", "run.started", run_id=f"r-{i}", status="running"))

        done = await asyncio.gather(*(f(i) for i in range(n) for f in (trigger, webhook)))
        assert all(done)
        rows = sorted(await store.list_runs(RunQuery(limit=100)), key=lambda r: int(r.run_id[2:]))
        assert [(r.run_id, r.status, r.trigger_delivery_id, r.sha) for r in rows] == [
            (f"r-{i}", "running", f"dlv_{i}", "abc123") for i in range(n)
        ]

    backend.run(body)
