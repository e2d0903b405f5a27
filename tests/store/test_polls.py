"""The poll schedule (receiver/store/polls.py, 0008_polls.sql) on SQLite and a real PostgreSQL:
claims with leases, history, schedules started in the run row's transaction (a trigger, a
source's ``poll:``), and one event for a transition a webhook and a poll both report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from receiver.runs.track import save
from receiver.store import Store
from receiver.store.polls import HISTORY_KEPT, NewPoll, Polled, PollHistoryRow, PollState
from receiver.store.retention import Pruned, retention_ops
from tests.runs.helpers import envelope, new_event, no_rules
from tests.store.conftest import Backend
from tests.store.test_run_trigger import STARTED_RUN, record
from tests.store.test_runs import only_run

NOW = 1000.0


def new_poll(run_id: str = "r-1", **values: Any) -> NewPoll:
    return NewPoll(**{"source_id": "fus", "run_id": run_id, "platform": "fusillade", "sink_id": "api", "now": NOW,
                      **values})  # fmt: skip


def polled(at: float, *, state: PollState = PollState.WATCHING, status: int | None = 200, **values: Any) -> Polled:
    history = PollHistoryRow(0, at, status, None, 0, None)
    return Polled(state, at + 15, at, 15.0, last_status=status, history=history, **values)


def test_a_due_poll_is_claimed_by_one_owner_until_its_lease_runs_out(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await store.add_polls([new_poll("r-1"), new_poll("r-2", due_at=NOW + 60)]) == 2
        assert await store.add_polls([new_poll("r-1")]) == 0  # watched already: left as it is
        (row,) = await store.claim_polls(NOW, 10, 60, "w1")
        assert (row.run_id, row.state, row.lease_owner, row.lease_until, row.cursor) == ("r-1", "watching", "w1",
                                                                                       NOW + 60, {})  # fmt: skip
        assert await store.claim_polls(NOW + 59, 10, 60, "w2") == []  # leased, and r-2 is not due yet
        assert await store.renew_poll("fus", "r-1", "w1", NOW + 120)
        assert not await store.renew_poll("fus", "r-1", "w2", NOW + 120)
        assert [r.run_id for r in await store.claim_polls(NOW + 61, 10, 60, "w2")] == ["r-2"]
        # w1 died: past its renewed lease the run is claimable again, by w2.
        (again,) = await store.claim_polls(NOW + 121, 10, 60, "w2")
        assert (again.run_id, again.lease_owner) == ("r-1", "w2")
        assert not await store.finish_poll("fus", "r-1", "w1", polled(NOW + 121))  # no longer w1's

    backend.run(body)


def test_finishing_a_poll_records_it_and_keeps_a_bounded_history(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.add_polls([new_poll()])
        for n in range(HISTORY_KEPT + 3):
            at = NOW + 100 * n
            (row,) = await store.claim_polls(at, 10, 60, "w1")
            assert row.polls == n
            cursor = {"status": f"s{n}"}
            error = "HTTP 500" if n % 2 else None
            assert await store.finish_poll("fus", "r-1", "w1", polled(at, cursor=cursor, last_error=error))
        row_after = await store.get_poll("fus", "r-1")
        assert row_after is not None
        last = NOW + 100 * (HISTORY_KEPT + 2)
        assert (row_after.polls, row_after.cursor, row_after.last_status, row_after.last_polled_at, row_after.due_at,
                row_after.lease_owner) == (HISTORY_KEPT + 3, {"status": f"s{HISTORY_KEPT + 2}"}, 200, last, last + 15,
                                           None)  # fmt: skip
        history = await store.poll_history("fus", "r-1", 500)
        assert [h.number for h in history] == list(range(HISTORY_KEPT + 3, 3, -1))
        assert history[0] == PollHistoryRow(HISTORY_KEPT + 3, last, 200, None, 0, None)
        # Given back without asking (rate limit): no history row, the last answer kept.
        await store.claim_polls(last + 15, 10, 60, "w1")
        back = Polled(PollState.WATCHING, last + 20, last + 15, 15.0, cursor=row_after.cursor)
        assert await store.finish_poll("fus", "r-1", "w1", back)
        kept = await store.get_poll("fus", "r-1")
        assert kept is not None and (kept.polls, kept.last_status, kept.due_at) == (HISTORY_KEPT + 3, 200, last + 20)
        # Done: never claimed again.
        await store.claim_polls(last + 20, 10, 60, "w1")
        assert await store.finish_poll("fus", "r-1", "w1", polled(last + 20, state=PollState.DONE))
        assert await store.claim_polls(last + 10_000, 10, 60, "w1") == []
        assert await store.count_watching() == 0

    backend.run(body)


def test_a_run_a_trigger_starts_on_a_polled_platform_is_watched_from_its_transaction(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await record(store, replace(STARTED_RUN, poll_sink="fusillade-api"))
        run = await only_run(store)
        row = await store.get_poll("fus", "r-1")
        assert row is not None
        assert (row.run_key, row.platform, row.sink_id, row.state, row.due_at, row.started_at) == (
            run.key, "fusillade", "fusillade-api", "watching", 1001.0, 1001.0)  # fmt: skip
        assert await store.count_watching() == 1

    backend.run(body)


def test_a_trigger_on_a_platform_without_poller_watches_nothing(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await record(store, STARTED_RUN)
        assert await store.get_poll("fus", "r-1") is None

    backend.run(body)


@dataclass(frozen=True)
class PollOn:
    sink: str
    types: frozenset[str]


def test_a_source_poll_option_watches_the_run_its_started_event_names(backend: Backend) -> None:
    async def body(store: Store) -> None:
        on = PollOn("fusillade-api", frozenset({"run.started"}))
        queued = envelope("evt_q", "run.queued", status="queued")
        result, _ = await save(store, new_event(queued), no_rules, NOW, poll=on)
        assert not result.duplicate and await store.get_poll("fus", "r-1") is None  # not one of its types
        started = envelope("evt_s", "run.started", status="running")
        await save(store, new_event(started), no_rules, NOW + 1, poll=on)
        row = await store.get_poll("fus", "r-1")
        run = await only_run(store)
        assert row is not None and (row.run_key, row.sink_id, row.due_at) == (run.key, "fusillade-api", NOW + 1)

    backend.run(body)


def polled_env(event_id: str, type: str, **run: Any) -> dict[str, Any]:
    return {**envelope(event_id, type, **run), "platform_event": "poll"}


HOOK_STARTED = envelope("evt_hs", "run.started", status="running")
POLL_STARTED = polled_env("evt_ps", "run.started", status="running")
HOOK_DONE = envelope("evt_hd", "run.completed", status="completed", outcome="passed")
POLL_DONE = polled_env("evt_pd", "run.completed", status="completed", outcome="passed")
HOOK_BREACH = envelope("evt_hb", "threshold.breached", status="running")


@pytest.mark.parametrize(
    ("order", "stored"),
    [
        # A webhook, then a poll seeing the same status: one event.
        ([HOOK_STARTED, POLL_STARTED, HOOK_DONE, POLL_DONE], ["evt_hs", "evt_hd"]),
        # A poll first, then the webhook of the same transition: one event.
        ([POLL_STARTED, HOOK_STARTED, POLL_DONE, HOOK_DONE], ["evt_ps", "evt_pd"]),
        # A late webhook of a transition the poll already went past, and a stale poll: no event.
        ([POLL_STARTED, POLL_DONE, HOOK_STARTED], ["evt_ps", "evt_pd"]),
        ([HOOK_DONE, POLL_STARTED], ["evt_hd"]),
        # Webhooks among themselves are unchanged, and a non-lifecycle event is never a repeat.
        ([HOOK_STARTED, {**HOOK_STARTED, "id": "evt_hs2"}], ["evt_hs", "evt_hs2"]),
        ([POLL_STARTED, HOOK_BREACH], ["evt_ps", "evt_hb"]),
    ],
)
def test_a_webhook_and_a_poll_reporting_one_transition_make_one_event(
    backend: Backend, order: list[dict[str, Any]], stored: list[str]
) -> None:
    async def body(store: Store) -> None:
        last = None
        for n, env in enumerate(order):
            key = f"poll:r-1:{env['id']}" if env.get("platform_event") == "poll" else None
            result, _ = await save(store, new_event(env, keys=(key,) if key else ()), no_rules, NOW + n)
            if result.duplicate:
                assert result.event_id == last  # the duplicate of the run's last event
            else:
                last = result.event_id
        run = await only_run(store)
        assert [e.id for e in await store.run_events(run.key, 50)] == sorted(stored)
        # A repeat gives its dedupe key back: nothing holds it for a stored event that does not exist.
        for env in order:
            if env["id"] not in stored:
                assert await store.get_event(env["id"]) is None

    backend.run(body)


def test_a_pruned_run_takes_its_poll_schedule_and_history_along(backend: Backend) -> None:
    async def body(store: Store) -> None:
        on = PollOn("fusillade-api", frozenset({"run.started"}))
        for run_id in ("r-1", "r-2"):
            env = envelope(f"evt_{run_id}", "run.started", run_id=run_id, status="running")
            await save(store, new_event(env), no_rules, NOW, poll=on)
        for row in await store.claim_polls(NOW, 10, 60, "w1"):
            assert await store.finish_poll(row.source_id, row.run_id, "w1", polled(NOW))
        old = await only_run(store, "r-1")
        # r-2 was updated since: only r-1 is past the horizon.
        await save(store, new_event(envelope("evt_r-2b", "run.queued", run_id="r-2", status="q")), no_rules, NOW + 50)
        pruned = await retention_ops(store).prune_runs(NOW + 10, 500)
        assert pruned == Pruned(runs=1, run_events=1, polls=1, poll_history=1)
        assert await store.get_run(old.key) is None and await store.get_poll("fus", "r-1") is None
        assert await store.poll_history("fus", "r-1", 10) == []
        assert await store.get_poll("fus", "r-2") is not None and len(await store.poll_history("fus", "r-2", 10)) == 1

    backend.run(body)
