"""Retention of the side tables (receiver/store/retention_side.py) on SQLite and a real PostgreSQL,
with a fake clock: deployments, the repeat-suppression log and silences past the horizon go; the
newest deployment per repository and environment, a held reservation and live or pending
silences stay."""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg

from receiver.store import Store
from receiver.store.base import AttemptRow, DeliveryState, Deployment, Outcome, RepeatKey, RepeatRecord, SilenceRow
from receiver.store.noise import _ADD_KEY
from receiver.store.retention import Pruned, retention_ops
from receiver.store.runs_history import LATEST_DEPLOYMENT, LATEST_DEPLOYMENT_IN_ENV
from receiver.store.sql import pg
from tests.pg import PostgresServer
from tests.store.conftest import Backend
from tests.store.test_contract import claim_one, delivery, event
from tests.store.test_retention import DAY, HORIZON, OLD, YOUNG

HOUR = 3600.0


async def read(store: Any, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if store.backend == "sqlite":
        return list(await store._read(lambda c: c.execute(sql, args).fetchall()))
    return [tuple(r) for r in await store._read(pg(sql), args)]


# -- deployments ------------------------------------------------------------------------------
# (event id, repo, environment, deployed_at) → kept?
DEPLOYMENTS = [
    ("dep-a1", "acme/shop", "production", OLD, False),  # a newer production deployment exists
    ("dep-a2", "acme/shop", "production", OLD + 10, True),  # the newest of production, however old
    ("dep-b1", "acme/shop", "staging", OLD, False),
    ("dep-b2", "acme/shop", "staging", YOUNG, True),
    ("dep-c1", "acme/shop", None, OLD, False),  # without environment: its own line
    ("dep-c2", "acme/shop", None, OLD + 5, True),
    ("dep-d1", "acme/other", "production", OLD, True),  # another repository's only one
    ("dep-e1", "acme/tie", None, OLD, False),  # the same second: the later event id is the newer
    ("dep-e2", "acme/tie", None, OLD, True),
    ("dep-f1", "acme/young", None, YOUNG - DAY, True),  # within the horizon, though not the newest
    ("dep-f2", "acme/young", None, YOUNG, True),
]


def test_old_deployments_go_but_the_newest_per_repo_and_environment_stays(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for event_id, repo, environment, at, _ in DEPLOYMENTS:
            deployment = Deployment(event_id, repo, environment, f"sha-{event_id}", "main", "main", at)
            await store.save_event(dataclasses.replace(event(event_id, t=at), deployment=deployment))
        ops = retention_ops(store)

        assert await ops.prune_side("deployments", HORIZON, 2) == Pruned(deployments=2)  # bounded batches
        assert await ops.prune_side("deployments", HORIZON, 500) == Pruned(deployments=2)
        assert await ops.prune_side("deployments", HORIZON, 500) == Pruned()

        left = [r[0] for r in await read(store, "SELECT event_id FROM deployments ORDER BY event_id")]
        assert left == [d[0] for d in DEPLOYMENTS if d[4]]
        # What a run starting now asks for is still there.
        now = YOUNG + DAY
        latest = await read(store, LATEST_DEPLOYMENT_IN_ENV, ("acme/shop", "production", now))
        assert latest[0][0] == "dep-a2"
        assert (await read(store, LATEST_DEPLOYMENT, ("acme/tie", now)))[0][0] == "dep-e2"

    backend.run(body)


# -- notify_log ---------------------------------------------------------------------------------
def key(name: str) -> RepeatKey:
    return RepeatKey("nightly", 0, name)


async def sent(store: Store, name: str, at: float) -> None:
    """A delivery for key ``name`` reserved and sent at ``at``."""
    did = f"d-{name}"
    assert (await store.repeat_reserve(key(name), "aaa", did, at, HOUR, at + 30)).verdict == "send"
    await store.save_event(event(f"e-{name}", t=at), [delivery(did)])
    await claim_one(store, did, at)
    attempt = AttemptRow(did, 0, at, at, 1.0, "succeeded", 200, None, None, None)
    record = RepeatRecord(key(name), "aaa", did, True, at)
    assert await store.finish(did, "w1", Outcome(attempt, DeliveryState.SUCCEEDED, repeat=record))


def test_old_repeat_rows_go_but_a_held_reservation_and_a_recent_send_stay(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await sent(store, "sent-old", OLD)
        await sent(store, "sent-young", YOUNG)
        # Sent long ago, and being sent again right now (its reservation runs past the horizon).
        await sent(store, "held", OLD)
        held = await store.repeat_reserve(key("held"), "bbb", "d-held-2", HORIZON - 5, HOUR, HORIZON + 55)
        assert held.verdict == "send"
        # Reserved long ago by a sender that died: the reservation ran out, nothing was sent.
        await store.repeat_reserve(key("abandoned"), "aaa", "d-abandoned", OLD, HOUR, OLD + 30)
        # Reserved before the horizon, never sent, and still held (a lease running past it).
        await store.repeat_reserve(key("reserved"), "aaa", "d-reserved", HORIZON - 60, HOUR, HORIZON + 60)

        assert await retention_ops(store).prune_side("notify_log", HORIZON, 500) == Pruned(notify_log=2)

        left = [r[0] for r in await read(store, "SELECT group_key FROM notify_log ORDER BY group_key")]
        assert left == ["held", "reserved", "sent-young"]
        # A pruned key is a fresh one: the same content is sent (no crash on the missing row).
        fresh = await store.repeat_reserve(key("sent-old"), "aaa", "d-again", YOUNG, HOUR, YOUNG + 30)
        assert fresh.verdict == "send"
        # The young send still suppresses a repeat.
        again = await store.repeat_reserve(key("sent-young"), "aaa", "d-young-2", YOUNG + 60, HOUR, YOUNG + 90)
        assert (again.verdict, again.delivery_id) == ("suppress", "d-sent-young")

    backend.run(body)


def test_a_reservation_being_taken_locks_its_row_from_the_pruner(pg_server: PostgresServer, pg_database: str) -> None:
    """PostgreSQL (SQLite's one writer runs a reservation and a batch one after the other): a
    sender's transaction that has just added its key holds the row, so a pruner beside it skips
    the row (it would otherwise delete it between the sender's two statements)."""
    pg_server.reset(pg_database)
    backend = Backend("postgres", pg_database)

    async def body(store: Store) -> None:
        await sent(store, "sent-old", OLD)
        async with await psycopg.AsyncConnection.connect(backend.url) as sender:
            await sender.execute(pg(_ADD_KEY), ("nightly", 0, "sent-old"))  # the first statement of a reservation
            assert await retention_ops(store).prune_side("notify_log", HORIZON, 500) == Pruned()
            await sender.rollback()
        assert await retention_ops(store).prune_side("notify_log", HORIZON, 500) == Pruned(notify_log=1)

    backend.run(body)


# -- silences -----------------------------------------------------------------------------------
# (id, starts_at, ends_at, expired_at) → kept?
SILENCES = [
    ("sil-ended-old", OLD, OLD + HOUR, None, False),
    ("sil-ended-recently", OLD, HORIZON + HOUR, None, True),  # over, but the page lists it a while
    ("sil-expired-old", OLD, YOUNG + DAY, OLD + 60, False),  # expired by hand long ago
    ("sil-expired-recently", OLD, YOUNG + DAY, HORIZON + 60, True),
    ("sil-live", OLD, YOUNG + DAY, None, True),  # started long ago, still in force
    ("sil-pending", YOUNG + HOUR, YOUNG + DAY, None, True),
]


def test_silences_over_for_the_horizon_go_and_live_or_pending_ones_stay(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for sid, starts, ends, expired, _ in SILENCES:
            await store.add_silence(SilenceRow(sid, ["source=ci"], starts, ends, "maintenance", "cli", starts, expired))

        assert await retention_ops(store).prune_side("silences", HORIZON, 500) == Pruned(silences=2)

        left = sorted(s.id for s in await store.list_silences())
        assert left == sorted(s[0] for s in SILENCES if s[4])
        assert {s.id for s in await store.live_silences(YOUNG)} == {"sil-live", "sil-pending"}

    backend.run(body)
