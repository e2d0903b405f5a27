"""The store contract of noise control (both backends): the notification log of repeat
suppression, silences, and the suppressed/silenced final states (0010_noise.sql)."""

from __future__ import annotations

import asyncio

from receiver.store import Store
from receiver.store.base import (
    AttemptRow,
    DeliveryState,
    Outcome,
    RepeatKey,
    RepeatRecord,
    SilenceRow,
)
from tests.store.conftest import Backend
from tests.store.test_contract import claim_one, delivery, event

KEY = RepeatKey("nightly", 0, "")
HOUR = 3600.0


def _quiet(did: str, at: float, outcome: str, reason: str) -> AttemptRow:
    return AttemptRow(did, 0, at, at, 0.0, outcome, None, None, reason, None)


async def _sent(store: Store, did: str, sha: str, now: float) -> None:
    """Reserve for ``did`` and finish it as sent at ``now``."""
    decision = await store.repeat_reserve(KEY, sha, did, now, HOUR, now + 30)
    assert decision.verdict == "send", decision
    await store.save_event(event("e-" + did, t=now), [delivery(did)])
    await claim_one(store, did, now)
    attempt = AttemptRow(did, 0, now, now, 1.0, "succeeded", 200, None, None, None)
    record = RepeatRecord(KEY, sha, did, True, now)
    assert await store.finish(did, "w1", Outcome(attempt, DeliveryState.SUCCEEDED, repeat=record))


def test_repeat_log_timeline(backend: Backend) -> None:
    async def body(store: Store) -> None:
        t = 1000.0
        await _sent(store, "d1", "aaa", t)
        # Same content inside the interval: suppressed, pointing at the delivery that was sent.
        d = await store.repeat_reserve(KEY, "aaa", "d2", t + 60, HOUR, t + 90)
        assert (d.verdict, d.delivery_id, d.sent_at) == ("suppress", "d1", t)
        # Changed content: sent. Another key is independent.
        assert (await store.repeat_reserve(KEY, "bbb", "d3", t + 60, HOUR, t + 90)).verdict == "send"
        other = RepeatKey("nightly", 0, "run-b")
        assert (await store.repeat_reserve(other, "aaa", "d4", t + 60, HOUR, t + 90)).verdict == "send"
        # After the interval: sent again.
        assert (await store.repeat_reserve(KEY, "aaa", "d5", t + HOUR + 1, HOUR, t + HOUR + 31)).verdict != "suppress"

    backend.run(body)


def test_a_reservation_holds_back_the_same_content_until_it_ends(backend: Backend) -> None:
    async def body(store: Store) -> None:
        t = 1000.0
        assert (await store.repeat_reserve(KEY, "aaa", "d1", t, HOUR, t + 30)).verdict == "send"
        # Another process, same content, while d1 is being sent: wait for d1's outcome.
        d = await store.repeat_reserve(KEY, "aaa", "d2", t + 1, HOUR, t + 31)
        assert (d.verdict, d.delivery_id, d.until) == ("wait", "d1", t + 30)
        # d1's send failed: its reservation ends in its finish transaction, and d2 may send.
        await store.save_event(event("e1", t=t), [delivery("d1")])
        await claim_one(store, "d1", t)
        failed = RepeatRecord(KEY, "aaa", "d1", False, t + 2)
        assert await store.finish(
            "d1", "w1", Outcome(_quiet("d1", t + 2, "failed", "503"), DeliveryState.DEAD, repeat=failed)
        )
        assert (await store.repeat_reserve(KEY, "aaa", "d2", t + 3, HOUR, t + 33)).verdict == "send"
        # A reservation whose holder died (its lease ran out) does not hold anyone back.
        assert (await store.repeat_reserve(KEY, "aaa", "d3", t + 40, HOUR, t + 70)).verdict == "send"

    backend.run(body)


def test_suppressed_and_silenced_are_final_states_with_what_held_them_back(backend: Backend) -> None:
    async def body(store: Store) -> None:
        t = 1000.0
        await store.save_event(event("e1", t=t), [delivery("d1"), delivery("d2")])
        assert len(await store.claim_due(t, 10, 30, "w1")) == 2
        for did, state, by in (("d1", DeliveryState.SUPPRESSED, "dlv_sent"), ("d2", DeliveryState.SILENCED, "sil_1")):
            outcome = Outcome(_quiet(did, t, state.value, "why"), state, None, "why", quieted_by=by)
            assert await store.finish(did, "w1", outcome)
            row = await store.get_delivery(did)
            assert row is not None and (row.state, row.quieted_by, row.last_error) == (state, by, "why")
        counts = await store.delivery_counts()
        assert counts == {"suppressed": 1, "silenced": 1}
        # A retry takes them back to the queue like a dead one, without the old mark.
        assert await store.requeue("d1", t + 5)
        row = await store.get_delivery("d1")
        assert row is not None and (row.state, row.quieted_by) == (DeliveryState.QUEUED, None)

    backend.run(body)


def test_silences_add_list_expire(backend: Backend) -> None:
    async def body(store: Store) -> None:
        t = 1000.0
        s1 = SilenceRow("sil_1", ["source=fusillade", "data.run.name=Nightly*"], t, t + HOUR, "perf env down", "cli", t)
        s2 = SilenceRow("sil_2", ["type=~run\\..*"], t + HOUR, t + 2 * HOUR, "later", "api", t + 1)
        s3 = SilenceRow("sil_3", ["source!=x"], t - 2 * HOUR, t - HOUR, "over", "api", t - 2 * HOUR)
        for s in (s1, s2, s3):
            await store.add_silence(s)
        assert await store.get_silence("sil_1") == s1
        assert [s.id for s in await store.live_silences(t)] == ["sil_1", "sil_2"]  # ended ones are not live
        assert [s.id for s in await store.list_silences()] == ["sil_2", "sil_1", "sil_3"]
        assert [s.state(t) for s in (s1, s2, s3)] == ["active", "pending", "expired"]
        expired = await store.expire_silence("sil_1", t + 10)
        assert expired is not None and expired.expired_at == t + 10 and expired.state(t + 10) == "expired"
        again = await store.expire_silence("sil_1", t + 20)  # already expired: unchanged
        assert again is not None and again.expired_at == t + 10
        assert await store.expire_silence("sil_nope", t) is None
        assert [s.id for s in await store.live_silences(t + 10)] == ["sil_2"]

    backend.run(body)


def test_a_silence_added_through_one_connection_is_live_in_another(backend: Backend) -> None:
    """Two stores on one database stand for two processes: what one adds, the other reads."""

    async def body(first: Store) -> None:
        second = backend.store()
        await second.open()
        try:
            assert await second.live_silences(1000.0) == []
            await first.add_silence(SilenceRow("sil_x", ["source=a"], 1000.0, 5000.0, "c", "cli", 1000.0))
            assert [s.id for s in await second.live_silences(1000.0)] == ["sil_x"]
            await second.expire_silence("sil_x", 1001.0)
            assert await first.live_silences(1002.0) == []
        finally:
            await second.close()

    backend.run(body)


def test_concurrent_reservations_of_the_same_content_let_one_send(backend: Backend) -> None:
    """Two stores on one database (two processes) reserving the same key and content at once."""

    async def body(first: Store) -> None:
        second = backend.store()
        await second.open()
        try:
            stores = [first, second, first, second]
            decisions = await asyncio.gather(
                *(s.repeat_reserve(KEY, "aaa", f"d{i}", 1000.0, HOUR, 1030.0) for i, s in enumerate(stores))
            )
            assert sorted(d.verdict for d in decisions) == ["send", "wait", "wait", "wait"]
            [sender] = [f"d{i}" for i, d in enumerate(decisions) if d.verdict == "send"]
            assert {d.delivery_id for d in decisions if d.verdict == "wait"} == {sender}
        finally:
            await second.close()

    backend.run(body)
