"""Noise control when sending (delivery/quiet.py): repeat suppression, silences and mute_time,
in-process with a fake clock, a real SQLite file and a real local HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from receiver.delivery import silences
from receiver.delivery.quiet import REFRESH_SECONDS, REPEAT_WAIT_SECONDS
from receiver.ids import new_id
from receiver.retrying import retry_delivery
from receiver.rules import load_rules
from receiver.sinks import SINKS
from receiver.store.base import NewDelivery, NewEvent, SilenceRow
from receiver.store.sqlite import SqliteStore
from tests.delivery.harness import Harness, run
from tests.helpers import FakeClock
from tests.servers import RecordingServer, Reply

HOUR = 3600.0
SATURDAY_NOON = datetime(2026, 3, 28, 12, 0, tzinfo=UTC).timestamp()
MONDAY_NOON = datetime(2026, 3, 30, 12, 0, tzinfo=UTC).timestamp()
NIGHTLY = {"name": "Nightly API", "project": "shop"}


def _sink(url: str) -> dict[str, Any]:
    return {"kind": "http", "base_url": url, "allow_private": True, "max_attempts": 1}


def _params(text: str) -> dict[str, Any]:
    return {"request": {"method": "POST", "path": "/notify", "json": {"text": text}}}


def _rules(h: Harness, tmp: Path, options: str) -> None:
    """The rules in force: rule-1's action 0 goes to the sink ``hook`` with ``options``."""
    path = tmp / "rules.yaml"
    path.write_text(
        "rules:\n  - name: rule-1\n    actions:\n      - sink: hook\n"
        "        request: {method: POST, path: /notify, json: {text: x}}\n" + options
    )
    h.dispatcher.router.swap(load_rules([path], {"hook": SINKS["http"].action}))


async def _add(h: Harness, text: str, run: dict[str, Any] | None = None, source: str = "fusillade") -> str:
    """An event (with ``data.run``) and one delivery of rule-1's action 0; the delivery's id."""
    now = h.clock()
    event_id, delivery_id = new_id("evt", now), new_id("dlv", now)
    envelope = {"id": event_id, "source": source, "type": "run.failed", "data": {"run": run or NIGHTLY}}
    event = NewEvent(
        id=event_id, source_id=source, kind="generic", type="run.failed", subject=None, received_at=now,
        body=b"{}", body_sha256=hashlib.sha256(b"{}").hexdigest(), headers={}, envelope=envelope,
        correlation_id=event_id,
    )  # fmt: skip
    await h.store.save_event(event, [NewDelivery(delivery_id, "rule-1", 0, "hook", None, _params(text))])
    return delivery_id


async def _state(h: Harness, delivery_id: str) -> tuple[str, str | None]:
    row = await h.delivery(delivery_id)
    return row.state.value, row.quieted_by


def test_repeat_timeline(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_NOON)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            _rules(h, tmp_path, "        repeat_interval: 1h\n")
            first = await _add(h, "nightly failed")
            await h.dispatcher.run_once()
            clock.advance(600)
            # Inside the interval, same content: suppressed, linked to the one that was sent.
            again = await _add(h, "nightly failed")
            await h.dispatcher.run_once()
            assert await _state(h, again) == ("suppressed", first)
            row = await h.delivery(again)
            assert row.last_error is not None and f"sent by {first} at 2026-03-30T12:00:00" in row.last_error
            assert [a.outcome for a in await h.attempts(again)] == ["suppressed"]
            # Inside the interval, changed content: sent.
            changed = await _add(h, "nightly failed differently")
            await h.dispatcher.run_once()
            assert await _state(h, changed) == ("succeeded", None)
            # After the interval (counted from the last send of that content): sent again.
            clock.advance(HOUR)
            later = await _add(h, "nightly failed differently")
            await h.dispatcher.run_once()
            assert await _state(h, later) == ("succeeded", None)
            assert [r.json["text"] for r in server.received] == [
                "nightly failed", "nightly failed differently", "nightly failed differently",
            ]  # fmt: skip
            assert h.metric("hookyard_deliveries_suppressed_total", sink="hook") == 1
            assert h.metric("hookyard_deliveries_total", sink="hook", state="suppressed") == 1

        run(tmp_path, {"hook": _sink(server.url)}, body, clock=clock)


def test_a_failed_send_is_no_send_for_repeat_suppression(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_NOON)
    with RecordingServer() as server:
        server.script(Reply(400, "bad"))

        async def body(h: Harness) -> None:
            _rules(h, tmp_path, "        repeat_interval: 1h\n")
            failed = await _add(h, "same")
            await h.dispatcher.run_once()
            assert await _state(h, failed) == ("dead", None)
            clock.advance(60)
            sent = await _add(h, "same")
            await h.dispatcher.run_once()
            assert await _state(h, sent) == ("succeeded", None)

        run(tmp_path, {"hook": _sink(server.url)}, body, clock=clock)


def test_two_dispatchers_on_one_database_send_the_same_content_once(tmp_path: Path) -> None:
    """Two stores and dispatchers on one SQLite file stand for two processes racing."""
    clock = FakeClock(MONDAY_NOON)
    with RecordingServer() as server:
        server.script(Reply(200, "ok", delay=0.2))  # the first send is still under way when the other decides

        async def body(h: Harness) -> None:
            other = Harness(tmp_path, clock, {"hook": _sink(server.url)})
            await other.store.open()
            try:
                for each in (h, other):
                    _rules(each, tmp_path, "        repeat_interval: 1h\n")
                ids = [await _add(h, "same"), await _add(h, "same")]
                # Each dispatcher claims one of the two (a claim takes at most one here).
                h.dispatcher.settings = other.dispatcher.settings = h.dispatcher.settings.model_copy(
                    update={"workers": 1}
                )
                await asyncio.gather(h.dispatcher.run_once(), other.dispatcher.run_once())
                states = sorted([(await _state(h, i))[0] for i in ids])
                assert states in (["queued", "succeeded"], ["succeeded", "suppressed"])  # waited, or decided after
                clock.advance(REPEAT_WAIT_SECONDS)
                await asyncio.gather(h.dispatcher.run_once(), other.dispatcher.run_once())
                assert sorted([(await _state(h, i))[0] for i in ids]) == ["succeeded", "suppressed"]
                assert len(server.received) == 1
            finally:
                await other.dispatcher.stop()
                await other.http.aclose()
                await other.store.close()

        run(tmp_path, {"hook": _sink(server.url)}, body, clock=clock)


def _silence(sid: str, matchers: list[str], starts: float, ends: float) -> SilenceRow:
    return SilenceRow(sid, matchers, starts, ends, "perf env down", "test", starts)


def test_silences_hold_matching_deliveries_back(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_NOON)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            _rules(h, tmp_path, "")
            now = clock()
            nightly = ["data.run.name=Nightly*", "source=fusillade"]
            await h.store.add_silence(_silence("sil_a", nightly, now, now + HOUR))
            await h.store.add_silence(_silence("sil_later", ["source=fusillade"], now + HOUR, now + 2 * HOUR))
            silenced = await _add(h, "x")
            other_name = await _add(h, "x", {"name": "Smoke"})
            other_source = await _add(h, "x", source="bug0")
            await h.dispatcher.run_once()
            assert await _state(h, silenced) == ("silenced", "sil_a")
            row = await h.delivery(silenced)
            assert row.last_error == "silenced by sil_a until 2026-03-30T13:00:00.000Z: perf env down"
            assert await _state(h, other_name) == ("succeeded", None)  # sil_later has not started
            assert await _state(h, other_source) == ("succeeded", None)
            assert h.metric("hookyard_deliveries_silenced_total", sink="hook", reason="silence") == 1
            # Expired through another connection to the same database (another process): it stops
            # applying here within REFRESH_SECONDS.
            elsewhere = SqliteStore(h.db, clock=clock)
            await elsewhere.open()
            await elsewhere.expire_silence("sil_a", clock())
            await elsewhere.close()
            clock.advance(REFRESH_SECONDS)
            after = await _add(h, "x")
            await h.dispatcher.run_once()
            assert await _state(h, after) == ("succeeded", None)
            # A silence that starts later applies from its start.
            clock.advance(HOUR)
            late = await _add(h, "x", {"name": "Smoke"})
            await h.dispatcher.run_once()
            assert await _state(h, late) == ("silenced", "sil_later")
            assert len(server.received) == 3

        run(tmp_path, {"hook": _sink(server.url)}, body, clock=clock)


def test_a_silence_added_elsewhere_applies_within_the_refresh_bound(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_NOON)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            _rules(h, tmp_path, "")
            await h.dispatcher.run_once()  # silences read (none)
            elsewhere = SqliteStore(h.db, clock=clock)
            await elsewhere.open()
            await elsewhere.add_silence(_silence("sil_b", ["source=fusillade"], clock(), clock() + HOUR))
            await elsewhere.close()
            clock.advance(REFRESH_SECONDS)
            held = await _add(h, "x")
            await h.dispatcher.run_once()
            assert await _state(h, held) == ("silenced", "sil_b")
            assert server.received == []

        run(tmp_path, {"hook": _sink(server.url)}, body, clock=clock)


def test_mute_time_silences_and_a_retry_queues_it_again(tmp_path: Path) -> None:
    clock = FakeClock(SATURDAY_NOON)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            _rules(h, tmp_path, "        mute_time: [{weekdays: [saturday, sunday]}]\n")
            muted = await _add(h, "x")
            await h.dispatcher.run_once()
            assert await _state(h, muted) == ("silenced", None)
            assert (await h.delivery(muted)).last_error == "mute_time: the action is muted at this time"
            assert h.metric("hookyard_deliveries_silenced_total", sink="hook", reason="mute_time") == 1
            assert server.received == []
            # Retried on Monday, like a dead delivery: queued again and, no longer muted, sent.
            clock.now = MONDAY_NOON
            result = await retry_delivery(h.store, h.dispatcher.router.ruleset, muted, clock())
            assert result.ok, result.message
            await h.dispatcher.run_once()
            assert await _state(h, muted) == ("succeeded", None)
            assert len(server.received) == 1

        run(tmp_path, {"hook": _sink(server.url)}, body, clock=clock)



def test_a_silence_made_in_this_process_applies_at_once(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_NOON)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            _rules(h, tmp_path, "")
            await h.dispatcher.run_once()  # silences read (none); the clock does not move after
            now = clock()
            row = silences.new_silence(
                ["source=fusillade"], starts_at=now, ends_at=now + HOUR, comment="c", created_by="t", now=now
            )
            await silences.add(h.store, row)
            held = await _add(h, "x")
            await h.dispatcher.run_once()
            assert await _state(h, held) == ("silenced", row.id)
            await silences.expire(h.store, row.id, clock())
            sent = await _add(h, "x")
            await h.dispatcher.run_once()
            assert await _state(h, sent) == ("succeeded", None)
            assert len(server.received) == 1

        run(tmp_path, {"hook": _sink(server.url)}, body, clock=clock)
