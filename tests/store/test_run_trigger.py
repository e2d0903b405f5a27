"""A run Hookyard started, recorded with the success of the call that started it
(receiver/store/runs_trigger.py), on SQLite and a real PostgreSQL: the new queued row, the run's
webhooks finding and inheriting it, a webhook that raced ahead, and a success recorded twice."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from receiver.events import build_envelope
from receiver.sources import ADAPTERS
from receiver.sources.base import safe_normalize
from receiver.store import Store
from receiver.store.base import DeliveryState, Outcome
from receiver.store.runs import SELECT_TRIGGERED, RunQuery, RunRow, TriggeredRun
from receiver.verify.base import RawRequest
from tests.runs.helpers import DONE, STARTED, envelope
from tests.sources.helpers import PAYLOADS
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


# --- Bug0 through GitHub: a status from its integration finds the run started for its commit -----

BUG0_SHA = "abc123def4567890abc123def4567890abc12345"  # the commit of the status payloads
BUG0_RUN = TriggeredRun(
    source_id="bug0", run_id="exec-1", platform="bug0", repo="octo-org/Hello-World", sha=BUG0_SHA,
    branch="feature/checkout", pr=None, correlation_id="evt_root", trigger_event_id="evt_1",
    trigger_delivery_id="dlv_1", now=1001.0,
)  # fmt: skip


def github_envelope(event_id: str, event: str, name: str, sha: str = BUG0_SHA) -> dict[str, Any]:
    """A GitHub webhook (a payload file) normalized by the github adapter, as ingest does."""
    body = (PAYLOADS / "github" / name).read_bytes().replace(BUG0_SHA.encode(), sha.encode())
    req = RawRequest(body=body, headers={"x-github-event": event})
    n = safe_normalize(ADAPTERS["github"].create(None), req)
    return build_envelope(n, event_id=event_id, source_id="github", received_at=1_770_000_000.0)


def test_a_bug0_report_through_github_updates_the_run_started_for_its_commit(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await record(store, BUG0_RUN)
        (started,) = await runs(store)
        steps = [
            ("s-1", "status", "status_bug0_pending.json", "running", None, False),
            ("s-2", "status", "status_bug0_failure.json", "completed", "failed", True),
        ]
        for event_id, event_name, name, status, outcome, final in steps:
            assert await put(store, github_envelope(event_id, event_name, name))
            stored = await store.get_event(event_id)
            assert stored is not None
            run = stored.envelope["data"]["run"]
            assert (run["key"], run["id"], run["status"]) == (started.key, "exec-1", status)
            (row,) = await runs(store)
            assert (row.key, row.status, row.outcome, row.final) == (started.key, status, outcome, final)
        assert row.url == "https://app.bug0.com/projects/507f1f77bcf86cd799439011/executions/exec_abc123def456"
        assert (row.source_id, row.run_id, row.trigger_delivery_id) == ("bug0", "exec-1", "dlv_1")

        # Another commit's report has no run Hookyard started: it is tracked on its own.
        other = "0" * 40
        assert await put(store, github_envelope("s-3", "status", "status_bug0_pending.json", sha=other))
        assert [(r.source_id, r.run_id, r.platform) for r in await runs(store)] == [
            ("github", f"octo-org/Hello-World@{other}", "bug0"),
            ("bug0", "exec-1", "bug0"),
        ]
        # Any other commit status is no run at all.
        assert await put(store, github_envelope("s-4", "status", "status_ci_success.json"))
        assert len(await runs(store)) == 2

    backend.run(body)


def test_the_commit_lookup_is_one_indexed_read(tmp_path: Path) -> None:
    async def body(store: Store) -> None:
        pass

    Backend("sqlite", f"sqlite:///{tmp_path / 'h.db'}").run(body)  # migrated
    conn = sqlite3.connect(tmp_path / "h.db")
    try:
        args = (BUG0_RUN.platform, BUG0_RUN.repo, BUG0_RUN.sha)
        plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + SELECT_TRIGGERED, args))
    finally:
        conn.close()
    assert "USING INDEX runs_trigger_commit" in plan and "TEMP B-TREE" not in plan, plan
