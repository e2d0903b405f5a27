"""The store contract: every test runs against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from receiver.store import Store
from receiver.store.base import (
    AttemptRow,
    DeliveryQuery,
    DeliveryState,
    EventQuery,
    NewDelivery,
    NewEvent,
    Outcome,
)
from receiver.store.migrate import migrations
from tests.store.conftest import Backend

S = DeliveryState


def event(
    id: str,
    *,
    source: str = "src",
    type: str = "test.finished",
    t: float = 1000.0,
    body: bytes = b'{"ok": true}',
    keys: tuple[str, ...] = (),
    window: float = 0.0,
    **extra: Any,
) -> NewEvent:
    return NewEvent(
        id=id, source_id=source, kind="generic", type=type, subject=extra.pop("subject", "sub"), received_at=t,
        body=body, body_sha256=hashlib.sha256(body).hexdigest(), headers={"X-Hook": "1"},
        envelope={"id": id, "type": type, "data": {"n": 1}, "raw": "ignored: rebuilt from the body"},
        correlation_id=extra.pop("correlation_id", id), dedupe_keys=keys, dedupe_window=window, **extra,
    )  # fmt: skip


def delivery(id: str, **extra: Any) -> NewDelivery:
    return NewDelivery(
        id=id, rule=extra.pop("rule", "r1"), action_index=0, sink_id=extra.pop("sink_id", "slack"),
        emit=extra.pop("emit", None), params=extra.pop("params", {"text": "hi"}), **extra,
    )  # fmt: skip


def attempt(delivery_id: str, at: float, outcome: str = "failed", number: int = 0) -> AttemptRow:
    return AttemptRow(delivery_id, number, at, at + 0.5, 500.0, outcome, 503, "http_503", "busy", "try later")


async def claim_one(store: Store, did: str, now: float, owner: str = "w1", lease: float = 30) -> None:
    claimed = await store.claim_due(now, 100, lease, owner)
    assert did in [c.delivery.id for c in claimed]


# -- events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "raw"),
    [
        pytest.param(b'{"ok": true, "n": [1, 2]}', {"ok": True, "n": [1, 2]}, id="json-object"),
        pytest.param(b"[1, 2, 3]", [1, 2, 3], id="json-array"),
        pytest.param(b"plain text, not json", None, id="text"),
        pytest.param(b"\xff\xfe not utf-8", None, id="binary"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_save_and_get_round_trip(backend: Backend, body: bytes, raw: Any) -> None:
    async def body_(store: Store) -> None:
        ev = event("evt_1", body=body, parent_id="evt_0", depth=2, rules_version="v9", matched_rules=["a", "b"],
                   normalize_error="odd shape", correlation_id="evt_0")  # fmt: skip
        assert (await store.save_event(ev)).duplicate is False
        row = await store.get_event("evt_1")
        assert row is not None
        assert (row.id, row.source_id, row.kind, row.type, row.subject, row.received_at) == (
            "evt_1", "src", "generic", "test.finished", "sub", 1000.0,
        )  # fmt: skip
        assert row.body == body and isinstance(row.body, bytes)
        assert row.headers == {"X-Hook": "1"}
        assert row.envelope == {"id": "evt_1", "type": "test.finished", "data": {"n": 1}, "raw": raw}
        assert (row.normalize_error, row.parent_id, row.correlation_id, row.depth) == ("odd shape", "evt_0", "evt_0", 2)
        assert (row.rules_version, row.matched_rules) == ("v9", ["a", "b"])
        assert await store.get_event("evt_missing") is None
        assert await store.count_events() == 1

    backend.run(body_)


# (id, source, type, received_at), saved in this order
_LISTED = [
    ("evt_01", "a", "x", 100.0),
    ("evt_02", "b", "x", 200.0),
    ("evt_03", "a", "y", 300.0),
    ("evt_04", "a", "x", 400.0),
    ("evt_05", "b", "y", 400.0),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (EventQuery(), ["evt_05", "evt_04", "evt_03", "evt_02", "evt_01"]),
        (EventQuery(limit=2), ["evt_05", "evt_04"]),
        (EventQuery(source="a"), ["evt_04", "evt_03", "evt_01"]),
        (EventQuery(type="y"), ["evt_05", "evt_03"]),
        (EventQuery(source="a", type="x"), ["evt_04", "evt_01"]),
        (EventQuery(since=300.0), ["evt_05", "evt_04", "evt_03"]),
        (EventQuery(before_id="evt_04"), ["evt_03", "evt_02", "evt_01"]),
        (EventQuery(source="b", before_id="evt_05", since=150.0), ["evt_02"]),
        (EventQuery(source="nobody"), []),
    ],
)
def test_list_events_filters(backend: Backend, query: EventQuery, expected: list[str]) -> None:
    async def body(store: Store) -> None:
        for id, source, type, t in _LISTED:
            await store.save_event(event(id, source=source, type=type, t=t))
        assert [r.id for r in await store.list_events(query)] == expected

    backend.run(body)


def test_list_events_pages_with_before_id(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for i in range(7):
            await store.save_event(event(f"evt_{i:02d}", t=1000.0 + i))
        seen: list[str] = []
        before = None
        while True:
            page = await store.list_events(EventQuery(before_id=before, limit=3))
            if not page:
                break
            assert len(page) <= 3
            seen += [r.id for r in page]
            before = page[-1].id
        assert seen == [f"evt_{i:02d}" for i in reversed(range(7))]

    backend.run(body)


@pytest.mark.parametrize(
    ("first", "second", "duplicate"),
    [
        (event("evt_1", keys=("d1",)), event("evt_2", keys=("d1",), t=5000.0), True),
        (event("evt_1", keys=("d1",)), event("evt_2", keys=("d2",)), False),
        (event("evt_1", keys=("d1", "sig")), event("evt_2", keys=("other", "sig")), True),
        (event("evt_1", keys=("d1",)), event("evt_2", keys=("d1",), source="elsewhere"), False),
        (event("evt_1"), event("evt_2"), False),  # no keys, no window: identical bodies both stored
    ],
)
def test_dedupe_by_key(backend: Backend, first: NewEvent, second: NewEvent, duplicate: bool) -> None:
    async def body(store: Store) -> None:
        assert (await store.save_event(first, [delivery("dlv_1")])).duplicate is False
        result = await store.save_event(second, [delivery("dlv_2")])
        assert result.duplicate is duplicate
        assert result.event_id == ("evt_1" if duplicate else "evt_2")
        assert await store.count_events() == (1 if duplicate else 2)
        # A redelivery plans nothing: its deliveries are not stored.
        assert (await store.get_delivery("dlv_2") is None) is duplicate

    backend.run(body)


@pytest.mark.parametrize(
    ("window", "gap", "source", "body", "duplicate"),
    [
        (60.0, 30.0, "src", b"same", True),
        (60.0, 60.0, "src", b"same", True),  # the window's edge is inside
        (60.0, 61.0, "src", b"same", False),
        (0.0, 0.0, "src", b"same", False),  # window 0 disables the body check
        (60.0, 1.0, "other", b"same", False),
        (60.0, 1.0, "src", b"different", False),
    ],
)
def test_dedupe_by_body_window(
    backend: Backend, window: float, gap: float, source: str, body: bytes, duplicate: bool
) -> None:
    async def run(store: Store) -> None:
        await store.save_event(event("evt_1", body=b"same", window=window, t=1000.0))
        result = await store.save_event(event("evt_2", body=body, source=source, window=window, t=1000.0 + gap))
        assert (result.event_id, result.duplicate) == (("evt_1", True) if duplicate else ("evt_2", False))

    backend.run(run)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda i: event(f"evt_{i:03d}", keys=("same-delivery",), t=1000.0 + i), id="same-key"),
        pytest.param(lambda i: event(f"evt_{i:03d}", window=300.0, t=1000.0 + i), id="same-body"),
    ],
)
def test_concurrent_redeliveries_store_exactly_one(backend: Backend, make: Any) -> None:
    async def body(store: Store) -> None:
        other = backend.store()  # half the saves come through a second daemon on the same database
        await other.open()
        try:
            results = await asyncio.gather(
                *((store, other)[i % 2].save_event(make(i), [delivery(f"dlv_{i:03d}")]) for i in range(50))
            )
        finally:
            await other.close()
        originals = [r for r in results if not r.duplicate]
        assert len(originals) == 1
        assert {r.event_id for r in results} == {originals[0].event_id}
        assert await store.count_events() == 1
        assert await store.delivery_counts() == {"queued": 1}

    backend.run(body)


@pytest.mark.parametrize(
    ("first_window", "second_window", "duplicate"),
    [
        (60.0, 60.0, True),
        # Only an event saved with a window holds its body key: one stored while the window
        # was off (an earlier config) is no original for a later identical body.
        (0.0, 60.0, False),
        (60.0, 0.0, False),
    ],
)
def test_dedupe_body_key_is_held_only_by_events_saved_with_a_window(
    backend: Backend, first_window: float, second_window: float, duplicate: bool
) -> None:
    async def run(store: Store) -> None:
        await store.save_event(event("evt_1", body=b"same", window=first_window, t=1000.0))
        result = await store.save_event(event("evt_2", body=b"same", window=second_window, t=1001.0))
        assert (result.event_id, result.duplicate) == (("evt_1", True) if duplicate else ("evt_2", False))

    backend.run(run)


def test_body_key_moves_on_once_when_redeliveries_race_past_the_window(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_old", window=60.0, t=1000.0))
        other = backend.store()  # two daemons race to take over the stale body key
        await other.open()
        try:
            saves = ((store, other)[i % 2].save_event(event(f"evt_{i:03d}", window=60.0, t=2000.0)) for i in range(30))
            results = await asyncio.gather(*saves)
        finally:
            await other.close()
        originals = [r.event_id for r in results if not r.duplicate]
        assert len(originals) == 1
        assert {r.event_id for r in results} == set(originals)
        assert await store.count_events() == 2
        later = await store.save_event(event("evt_later", window=60.0, t=2030.0))
        assert (later.event_id, later.duplicate) == (originals[0], True)

    backend.run(body)


@pytest.mark.parametrize(
    ("parent", "limit", "expected"),
    [
        ("root", 10, ["a-late-id-first", "z-child"]),  # by time, whatever the ids say
        ("root", 1, ["a-late-id-first"]),
        ("z-child", 10, ["grandchild"]),  # only direct children
        ("other", 10, []),
    ],
)
def test_children_by_parent_id(backend: Backend, parent: str, limit: int, expected: list[str]) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("root", t=1000.0))
        await store.save_event(event("other", t=1001.0))
        # Derived events come from any source at any time with any id (not ordered by time).
        await store.save_event(event("z-child", source="sink-a", t=1002.0, parent_id="root", correlation_id="root"))
        await store.save_event(event("a-late-id-first", source="sink-b", t=900.0, parent_id="root"))
        await store.save_event(event("grandchild", t=1003.0, parent_id="z-child", correlation_id="root"))
        assert [e.id for e in await store.children(parent, limit)] == expected

    backend.run(body)


def test_concurrent_distinct_events_all_stored(backend: Backend) -> None:
    async def body(store: Store) -> None:
        saves = (store.save_event(event(f"evt_{i:03d}", keys=(f"k{i}",), window=60.0, body=str(i).encode()))
                 for i in range(50))  # fmt: skip
        results = await asyncio.gather(*saves)
        assert not any(r.duplicate for r in results)
        assert await store.count_events() == 50

    backend.run(body)


def test_event_and_deliveries_are_one_transaction(backend: Backend) -> None:
    async def body(store: Store) -> None:
        with pytest.raises(Exception):  # noqa: B017 - each driver raises its own IntegrityError
            await store.save_event(event("evt_1", keys=("k",)), [delivery("dlv_1"), delivery("dlv_1")])
        assert await store.get_event("evt_1") is None
        assert await store.get_delivery("dlv_1") is None
        # The failed save left no dedupe key behind: the retry is a new event.
        assert (await store.save_event(event("evt_1", keys=("k",)), [delivery("dlv_1")])).duplicate is False
        assert await store.delivery_counts() == {"queued": 1}

    backend.run(body)


def test_text_with_nul(backend: Backend) -> None:
    # SQLite keeps NUL; PostgreSQL text cannot hold it, so it stores U+FFFD instead of refusing the event.
    expected = {"sqlite": "a\x00b", "postgres": "a\ufffdb"}[backend.name]

    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", subject="a\x00b", body=b'{"s": "a\\u0000b"}'))
        row = await store.get_event("evt_1")
        assert row is not None
        assert row.subject == expected
        assert row.envelope["raw"] == {"s": "a\x00b"}  # json keeps it escaped

    backend.run(body)


# -- deliveries -----------------------------------------------------------------------------


def test_new_delivery_row(backend: Backend) -> None:
    async def body(store: Store) -> None:
        d = delivery("dlv_1", ordering_key="repo@sha", replay_of="dlv_0", params={"a": [1, {"b": None}]})
        await store.save_event(event("evt_1", t=1000.0), [d, delivery("dlv_2", params=None, emit="compare.done")])
        row = await store.get_delivery("dlv_1")
        assert row is not None
        assert (row.event_id, row.rule, row.action_index, row.sink_id, row.params) == (
            "evt_1", "r1", 0, "slack", {"a": [1, {"b": None}]},
        )  # fmt: skip
        assert (row.state, row.attempts, row.created_at, row.updated_at, row.next_attempt_at) == (
            S.QUEUED, 0, 1000.0, 1000.0, 1000.0,
        )  # fmt: skip
        assert (row.ordering_key, row.ordering_time, row.replay_of, row.budget_start) == ("repo@sha", 1000.0, "dlv_0",
                                                                                          1000.0)  # fmt: skip
        assert (row.lease_until, row.lease_owner, row.last_error) == (None, None, None)
        other = await store.get_delivery("dlv_2")
        assert other is not None and (other.params, other.emit, other.ordering_time) == (None, "compare.done", None)
        assert await store.get_delivery("dlv_missing") is None

    backend.run(body)


@pytest.mark.parametrize(("now", "due"), [(999.0, []), (1000.0, ["dlv_a"]), (1500.0, ["dlv_a", "dlv_b"])])
def test_claim_due_respects_next_attempt_at(backend: Backend, now: float, due: list[str]) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_a")])
        await store.save_event(event("evt_2", t=1500.0), [delivery("dlv_b")])
        await store.save_event(event("evt_3", t=900.0), [delivery("dlv_dead", state=S.DEAD)])
        claimed = await store.claim_due(now, 10, 30, "w1")
        assert [c.delivery.id for c in claimed] == due
        for c in claimed:
            assert (c.delivery.state, c.delivery.lease_owner, c.delivery.lease_until) == (S.IN_PROGRESS, "w1", now + 30)
            # The stored envelope, without the body (sending never needs it).
            assert c.envelope["id"] == c.delivery.event_id and c.envelope["data"] == {"n": 1}
            assert "raw" not in c.envelope and c.depth == 0 and c.event_source == "src"

    backend.run(body)


def test_claim_due_limit_takes_the_oldest(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for i in range(5):
            await store.save_event(event(f"evt_{i}", t=1000.0 + i), [delivery(f"dlv_{i}")])
        assert [c.delivery.id for c in await store.claim_due(2000.0, 2, 30, "w1")] == ["dlv_0", "dlv_1"]
        assert [c.delivery.id for c in await store.claim_due(2000.0, 10, 30, "w2")] == ["dlv_2", "dlv_3", "dlv_4"]

    backend.run(body)


def test_lease_blocks_other_owners_until_it_expires(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1")])
        await claim_one(store, "dlv_1", 1000.0, "w1", lease=30)
        assert await store.claim_due(1029.0, 10, 30, "w2") == []
        assert await store.claim_due(1030.0, 10, 30, "w2") == []  # the lease runs until 1030 inclusive
        [taken] = await store.claim_due(1031.0, 10, 30, "w2")
        assert (taken.delivery.id, taken.delivery.lease_owner, taken.delivery.lease_until) == ("dlv_1", "w2", 1061.0)
        # The first worker lost its lease: its late result is refused and records nothing.
        assert await store.finish("dlv_1", "w1", Outcome(attempt("dlv_1", 1032.0, "succeeded"), S.SUCCEEDED)) is False
        assert await store.postpone("dlv_1", "w1", 2000.0) is False
        assert await store.attempts_for(["dlv_1"]) == {"dlv_1": []}
        row = await store.get_delivery("dlv_1")
        assert row is not None and (row.state, row.lease_owner, row.attempts) == (S.IN_PROGRESS, "w2", 0)
        assert await store.finish("dlv_1", "w2", Outcome(attempt("dlv_1", 1033.0, "succeeded"), S.SUCCEEDED)) is True

    backend.run(body)


def test_concurrent_dispatchers_never_share_a_delivery(backend: Backend) -> None:
    async def body(store: Store) -> None:
        for i in range(40):
            await store.save_event(event(f"evt_{i:02d}", t=1000.0), [delivery(f"dlv_{i:02d}")])
        other = backend.store()  # a second daemon on the same database
        await other.open()
        try:
            batches = await asyncio.gather(
                *(s.claim_due(1000.0, 3, 30, f"w{i}") for i in range(10) for s in (store, other))
            )
        finally:
            await other.close()
        ids = [c.delivery.id for batch in batches for c in batch]
        assert len(ids) == len(set(ids)) == 40
        assert await store.delivery_counts() == {"in_progress": 40}

    backend.run(body)


@pytest.mark.parametrize(
    ("outcome", "state", "next_at", "last_error"),
    [
        (Outcome(attempt("dlv_1", 1001.0, "succeeded"), S.SUCCEEDED), S.SUCCEEDED, 1000.0, None),
        (Outcome(attempt("dlv_1", 1001.0), S.RETRYING, 1100.0, "busy"), S.RETRYING, 1100.0, "busy"),
        (Outcome(attempt("dlv_1", 1001.0), S.DEAD, None, "gave up"), S.DEAD, 1000.0, "gave up"),
    ],
)
def test_finish_records_attempt_and_state(
    backend: Backend, outcome: Outcome, state: DeliveryState, next_at: float, last_error: str | None
) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1")])
        await claim_one(store, "dlv_1", 1000.0)
        assert await store.finish("dlv_1", "w1", outcome) is True
        row = await store.get_delivery("dlv_1")
        assert row is not None
        assert (row.state, row.attempts, row.next_attempt_at, row.last_error) == (state, 1, next_at, last_error)
        assert (row.lease_owner, row.lease_until, row.updated_at) == (None, None, 1001.5)
        expected = AttemptRow("dlv_1", 1, 1001.0, 1001.5, 500.0, outcome.attempt.outcome, 503, "http_503", "busy",
                              "try later")  # fmt: skip
        assert await store.attempts_for(["dlv_1"]) == {"dlv_1": [expected]}
        # Only a retrying delivery comes back (when due); a finished one cannot be finished twice.
        again = [c.delivery.id for c in await store.claim_due(5000.0, 10, 30, "w2")]
        assert again == (["dlv_1"] if state is S.RETRYING else [])
        assert await store.finish("dlv_1", "w1", outcome) is False

    backend.run(body)


def test_attempt_numbers_count_up(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1"), delivery("dlv_2")])
        now = 1000.0
        for outcome, state in (("failed", S.RETRYING), ("failed", S.RETRYING), ("succeeded", S.SUCCEEDED)):
            await claim_one(store, "dlv_1", now)
            # The attempt's own number is ignored: the store numbers attempts.
            ok = await store.finish("dlv_1", "w1", Outcome(attempt("dlv_1", now, outcome, number=7), state, now + 10))
            assert ok
            now += 10
        got = await store.attempts_for(["dlv_1", "dlv_2", "dlv_unknown"])
        assert [(a.number, a.outcome, a.started_at) for a in got["dlv_1"]] == [
            (1, "failed", 1000.0), (2, "failed", 1010.0), (3, "succeeded", 1020.0),
        ]  # fmt: skip
        assert (got["dlv_2"], got["dlv_unknown"]) == ([], [])
        row = await store.get_delivery("dlv_1")
        assert row is not None and (row.attempts, row.state) == (3, S.SUCCEEDED)
        assert await store.attempts_for([]) == {}

    backend.run(body)


def derived(id: str, parent_delivery: str, deliveries: list[NewDelivery]) -> tuple[NewEvent, list[NewDelivery]]:
    """What the dispatcher derives from an ``emit:`` action's answer."""
    ev = event(
        id, source="compare", t=1001.5, body=b'{"regressed": false}', keys=(f"emit:{parent_delivery}",),
        parent_id="evt_1", correlation_id="evt_1", depth=1,
    )  # fmt: skip
    return ev, deliveries


def test_finish_stores_the_derived_event_once(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1", emit="compare.done"), delivery("dlv_2")])
        assert [c.delivery.id for c in await store.claim_due(1000.0, 10, 30, "w1")] == ["dlv_1", "dlv_2"]
        win = Outcome(
            attempt("dlv_1", 1001.0, "succeeded"), S.SUCCEEDED, derived=derived("evt_d1", "dlv_1", [delivery("dlv_d1")])
        )
        assert await store.finish("dlv_1", "w1", win) is True
        child = await store.get_event("evt_d1")
        assert child is not None
        assert (child.parent_id, child.correlation_id, child.depth, child.envelope["raw"]) == (
            "evt_1", "evt_1", 1, {"regressed": False},
        )  # fmt: skip
        d1 = await store.get_delivery("dlv_d1")
        assert d1 is not None and (d1.event_id, d1.state, d1.created_at) == ("evt_d1", S.QUEUED, 1001.5)
        # The same emit origin again (a repeated success): no second event, no second deliveries.
        again = Outcome(
            attempt("dlv_2", 1002.0, "succeeded"), S.SUCCEEDED, derived=derived("evt_d2", "dlv_1", [delivery("dlv_d2")])
        )
        assert await store.finish("dlv_2", "w1", again) is True
        assert await store.get_event("evt_d2") is None and await store.get_delivery("dlv_d2") is None
        assert await store.count_events() == 2
        # A finish that lost its lease stores no derived event at all.
        await store.save_event(event("evt_3", t=1000.0), [delivery("dlv_3")])
        lost = Outcome(attempt("dlv_3", 1003.0, "succeeded"), S.SUCCEEDED, derived=derived("evt_d3", "dlv_3", []))
        assert await store.finish("dlv_3", "nobody", lost) is False
        assert await store.get_event("evt_d3") is None

    backend.run(body)


def test_postpone(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1")])
        assert await store.postpone("dlv_1", "w1", 1200.0) is False  # not claimed
        await claim_one(store, "dlv_1", 1000.0)
        assert await store.postpone("dlv_1", "w2", 1200.0) is False  # not the owner
        backend.clock.now = 1005.0
        assert await store.postpone("dlv_1", "w1", 1200.0) is True
        row = await store.get_delivery("dlv_1")
        assert row is not None
        assert (row.state, row.attempts, row.next_attempt_at, row.lease_owner, row.lease_until, row.updated_at) == (
            S.QUEUED, 0, 1200.0, None, None, 1005.0,
        )  # fmt: skip
        assert await store.claim_due(1199.0, 10, 30, "w1") == []
        # After a real attempt a postponed delivery is retrying, not queued.
        await claim_one(store, "dlv_1", 1200.0)
        await store.finish("dlv_1", "w1", Outcome(attempt("dlv_1", 1200.0), S.RETRYING, 1300.0, "busy"))
        await claim_one(store, "dlv_1", 1300.0)
        assert await store.postpone("dlv_1", "w1", 1400.0) is True
        row = await store.get_delivery("dlv_1")
        assert row is not None and (row.state, row.attempts, row.next_attempt_at) == (S.RETRYING, 1, 1400.0)
        assert len((await store.attempts_for(["dlv_1"]))["dlv_1"]) == 1

    backend.run(body)


def test_renew_extends_only_its_owners_lease(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1")])
        assert await store.renew("dlv_1", "w1", 1100.0) is False  # not claimed
        await claim_one(store, "dlv_1", 1000.0, "w1", lease=30)
        assert await store.renew("dlv_1", "w2", 1100.0) is False  # not the owner
        assert await store.renew("dlv_1", "w1", 1100.0) is True
        assert await store.claim_due(1050.0, 10, 30, "w2") == []  # the old lease (1030) would have let it go
        row = await store.get_delivery("dlv_1")
        assert row is not None and (row.state, row.lease_owner, row.lease_until) == (S.IN_PROGRESS, "w1", 1100.0)
        await claim_one(store, "dlv_1", 1101.0, "w2")
        assert await store.renew("dlv_1", "w1", 1200.0) is False  # lost: it is w2's now

    backend.run(body)


def test_oldest_due(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await store.oldest_due(1000.0) is None
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1")])
        await store.save_event(event("evt_2", t=1010.0), [delivery("dlv_2")])
        assert await store.oldest_due(999.0) is None  # nothing due yet
        assert await store.oldest_due(1005.0) == 1000.0
        [claimed] = await store.claim_due(1020.0, 1, 30, "w1")
        assert claimed.delivery.id == "dlv_1"
        assert await store.oldest_due(1020.0) == 1010.0  # dlv_1 is leased until 1050
        await claim_one(store, "dlv_2", 1030.0, "w2")  # leased until 1060
        assert await store.oldest_due(1040.0) is None
        assert await store.oldest_due(1055.0) == 1050.0  # dlv_1's worker stopped renewing its lease
        assert await store.oldest_due(1065.0) == 1050.0
        assert await store.finish("dlv_1", "w1", Outcome(attempt("dlv_1", 1065.0, "succeeded"), S.SUCCEEDED))
        assert await store.oldest_due(1065.0) == 1060.0
        assert await store.finish("dlv_2", "w2", Outcome(attempt("dlv_2", 1065.0), S.DEAD))
        assert await store.oldest_due(1065.0) is None

    backend.run(body)


@pytest.mark.parametrize(
    ("ordering_time", "delivery_id", "expected"),
    [
        (1000.0, "dlv_b", True),  # dlv_c (t=2000) succeeded after it
        (2000.0, "dlv_c", False),  # nothing newer succeeded
        (2000.0, "dlv_bb", True),  # same time, dlv_c sorts after dlv_bb: newer wins ties by id
        (2000.0, "dlv_d", False),  # same time, dlv_c sorts before dlv_d
        (3000.0, "dlv_e", False),
    ],
)
def test_newer_succeeded(backend: Backend, ordering_time: float, delivery_id: str, expected: bool) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_b", ordering_key="k")])
        await store.save_event(event("evt_2", t=2000.0), [delivery("dlv_c", ordering_key="k")])
        await store.save_event(event("evt_3", t=2500.0), [delivery("dlv_z", ordering_key="k")])  # not succeeded
        await store.save_event(event("evt_4", t=9000.0), [delivery("dlv_o", ordering_key="other")])
        await claim_one(store, "dlv_c", 2000.0)
        await store.finish("dlv_c", "w1", Outcome(attempt("dlv_c", 2000.0, "succeeded"), S.SUCCEEDED))
        await claim_one(store, "dlv_o", 9000.0)
        await store.finish("dlv_o", "w1", Outcome(attempt("dlv_o", 9000.0, "succeeded"), S.SUCCEEDED))
        assert await store.newer_succeeded("k", ordering_time, delivery_id) is expected

    backend.run(body)


@pytest.mark.parametrize(
    ("state", "requeued"),
    [(S.DEAD, True), (S.QUEUED, False), (S.SUCCEEDED, False), (S.SUPERSEDED, False), (S.RETRYING, False)],
)
def test_requeue_only_dead(backend: Backend, state: DeliveryState, requeued: bool) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1", state=state, last_error="x")])
        before = await store.get_delivery("dlv_1")
        assert await store.requeue("dlv_1", 5000.0) is requeued
        assert await store.requeue("dlv_missing", 5000.0) is False
        row = await store.get_delivery("dlv_1")
        assert row is not None and before is not None
        if requeued:
            assert (row.state, row.attempts, row.next_attempt_at, row.budget_start, row.updated_at) == (
                S.QUEUED, 0, 5000.0, 5000.0, 5000.0,
            )  # fmt: skip
            assert [c.delivery.id for c in await store.claim_due(5000.0, 10, 30, "w1")] == ["dlv_1"]
        else:
            assert row == before

    backend.run(body)


def test_requeue_after_dying_resets_the_budget(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1")])
        await claim_one(store, "dlv_1", 1000.0)
        await store.finish("dlv_1", "w1", Outcome(attempt("dlv_1", 1000.0), S.DEAD, None, "gave up"))
        assert await store.requeue("dlv_1", 3000.0) is True
        await claim_one(store, "dlv_1", 3000.0)
        await store.finish("dlv_1", "w1", Outcome(attempt("dlv_1", 3000.0, "succeeded"), S.SUCCEEDED))
        # Attempt numbering continues across the requeue; the attempt budget starts over.
        got = (await store.attempts_for(["dlv_1"]))["dlv_1"]
        assert [a.number for a in got] == [1, 2]
        row = await store.get_delivery("dlv_1")
        assert row is not None and (row.state, row.attempts, row.budget_start) == (S.SUCCEEDED, 1, 3000.0)

    backend.run(body)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (DeliveryQuery(), ["dlv_4", "dlv_3", "dlv_2", "dlv_1"]),
        (DeliveryQuery(limit=1), ["dlv_4"]),
        (DeliveryQuery(state="dead"), ["dlv_3"]),
        (DeliveryQuery(event_id="evt_1"), ["dlv_2", "dlv_1"]),
        (DeliveryQuery(sink_id="github"), ["dlv_4", "dlv_2"]),
        (DeliveryQuery(state="queued", sink_id="github"), ["dlv_4", "dlv_2"]),
        (DeliveryQuery(state="succeeded"), []),
    ],
)
def test_list_deliveries_and_counts(backend: Backend, query: DeliveryQuery, expected: list[str]) -> None:
    async def body(store: Store) -> None:
        await store.save_event(event("evt_1", t=1000.0), [delivery("dlv_1"), delivery("dlv_2", sink_id="github")])
        await store.save_event(event("evt_2", t=2000.0), [delivery("dlv_3", state=S.DEAD)])
        await store.add_deliveries("evt_2", [delivery("dlv_4", sink_id="github")], 3000.0)
        assert [d.id for d in await store.list_deliveries(query)] == expected
        assert await store.delivery_counts() == {"queued": 3, "dead": 1}
        added = await store.get_delivery("dlv_4")
        assert added is not None and (added.event_id, added.created_at, added.next_attempt_at) == ("evt_2", 3000.0,
                                                                                                   3000.0)  # fmt: skip

    backend.run(body)


# -- lifecycle ------------------------------------------------------------------------------


def test_ping_and_reopen_keep_data_and_apply_migrations_once(backend: Backend) -> None:
    async def first(store: Store) -> None:
        await store.ping()
        await store.save_event(event("evt_1", keys=("k",)), [delivery("dlv_1")])

    async def second(store: Store) -> None:
        assert await store.count_events() == 1
        assert (await store.save_event(event("evt_2", keys=("k",)))).event_id == "evt_1"
        await store.ping()

    backend.run(first)
    backend.run(second)
    assert applied_migrations(backend) == [v for v, _, _ in migrations(backend.name)]


def test_concurrent_opens_migrate_once(backend: Backend) -> None:
    async def main() -> None:
        stores = [backend.store() for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            await stores[0].save_event(event("evt_1"))
            assert [await s.count_events() for s in stores] == [1, 1, 1, 1]
        finally:
            for s in stores:
                await s.close()

    asyncio.run(main())
    assert applied_migrations(backend) == [v for v, _, _ in migrations(backend.name)]


def applied_migrations(backend: Backend) -> list[int]:
    if backend.name == "sqlite":
        import sqlite3

        with sqlite3.connect(backend.url[len("sqlite:///") :]) as conn:
            return [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    import psycopg

    with psycopg.connect(backend.url) as pg:
        return [v for (v,) in pg.execute("SELECT version FROM schema_migrations ORDER BY version")]
