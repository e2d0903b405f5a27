"""The group flusher (receiver/delivery/grouping.py) on a fake clock: grouped actions' events
are collected in the store and sent as ONE delivery per group, through the real dispatcher,
a real SQLite file and a real local HTTP server. The timeline: wait, interval, late arrivals,
the cap of ``group.events``, ``counts_by``, a rule gone after a reload."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from receiver.ids import new_id
from receiver.rules import load_rules
from receiver.sinks import SINKS
from receiver.store import groups
from receiver.store.base import DeliveryQuery, NewEvent
from tests.delivery.harness import Harness, run
from tests.delivery.test_dispatcher import http_sink
from tests.helpers import FakeClock
from tests.servers import RecordingServer

RULES = """\
rules:
  - name: burst
    match: {type: result.failed}
    actions:
      - sink: hook
        group: {by: [data.run.key], wait: 30s, interval: 5m, max_events: 3}
        request:
          path: /notify
          json: !json >-
            {"run": {{ group.key[0] | tojson }}, "count": {{ group.count }},
             "shown": {{ group.events | map(attribute="data.result.name") | list | tojson }},
             "by_status": {{ group.counts_by("data.result.status") | tojson }},
             "latest": {{ event.data.result.name | tojson }}}
"""


def use_rules(h: Harness, tmp: Path, text: str = RULES) -> None:
    (tmp / "rules.yaml").write_text(text, encoding="utf-8")
    h.dispatcher.router.swap(load_rules([tmp / "rules.yaml"], {"hook": SINKS["http"].action}))


async def result(h: Harness, run: str, name: str, status: str = "failed") -> str:
    """Store a result event as ingest does: planned by the router, saved with its plan."""
    now = h.clock()
    event_id = new_id("evt", now)
    envelope = {"id": event_id, "type": "result.failed", "source": "af",
                "data": {"run": {"key": run}, "result": {"name": name, "status": status}}}  # fmt: skip
    body = b"{}"
    plan = h.dispatcher.router.plan(envelope)
    event = NewEvent(id=event_id, source_id="af", kind="automatedfuture", type="result.failed", subject=None,
                     received_at=now, body=body, body_sha256=hashlib.sha256(body + event_id.encode()).hexdigest(),
                     headers={}, envelope=envelope, correlation_id=event_id)  # fmt: skip
    await h.store.save_event(event, plan.deliveries)
    return event_id


def sent(server: RecordingServer) -> list[dict[str, Any]]:
    return [r.json for r in server.received]


def test_the_grouping_timeline(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            use_rules(h, tmp_path)
            await result(h, "run_a", "a1")
            clock.advance(5)
            await result(h, "run_a", "a2", "error")
            await result(h, "run_b", "b1")
            assert await h.store.list_deliveries(DeliveryQuery()) == []  # joined, nothing queued
            clock.advance(24.9)  # 29.9 s after run_a's first member
            await h.dispatcher.run_once()
            assert sent(server) == []
            clock.advance(0.1)  # run_a's wait is over
            await h.dispatcher.run_once()
            assert sent(server) == [{"run": "run_a", "count": 2, "shown": ["a1", "a2"],
                                     "by_status": {"failed": 1, "error": 1}, "latest": "a2"}]  # fmt: skip
            clock.advance(5)  # run_b opened at 1005: due at 1035
            await h.dispatcher.run_once()
            assert [m["run"] for m in sent(server)] == ["run_a", "run_b"]
            # Late arrivals of run_a open a follow-up: due after its own wait, but no sooner than
            # the interval after run_a's send (1030 + 300).
            clock.advance(10)  # 1045
            await result(h, "run_a", "a3")
            clock.advance(100)
            await result(h, "run_a", "a4")
            clock.advance(100)  # 1245: the follow-up's wait is long over, the interval is not
            await h.dispatcher.run_once()
            assert len(server.received) == 2
            clock.now = 1329.9
            await h.dispatcher.run_once()
            assert len(server.received) == 2
            clock.now = 1330.0
            await h.dispatcher.run_once()
            assert sent(server)[2] == {"run": "run_a", "count": 2, "shown": ["a3", "a4"],
                                       "by_status": {"failed": 2}, "latest": "a4"}  # fmt: skip
            # After a quiet interval a new burst waits only its own wait.
            clock.now = 2000.0
            await result(h, "run_a", "a5")
            clock.now = 2030.0
            await h.dispatcher.run_once()
            assert [m["shown"] for m in sent(server)[3:]] == [["a5"]]
            assert h.metric("hookyard_groups_sent_total", rule="burst") == 4
            assert h.metric("hookyard_group_members_total", rule="burst") == 6

        run(tmp_path, {"hook": http_sink(server.url)}, body, clock=clock)


def test_group_events_are_capped_but_the_count_and_counts_stay_exact(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            use_rules(h, tmp_path)
            for i in range(7):
                await result(h, "run_a", f"a{i}", "error" if i % 3 == 0 else "failed")
                clock.advance(1)
            clock.now = 1030.0
            await h.dispatcher.run_once()
            assert sent(server) == [{"run": "run_a", "count": 7, "shown": ["a0", "a1", "a2"],
                                     "by_status": {"failed": 4, "error": 3}, "latest": "a6"}]  # fmt: skip
            assert h.metric("hookyard_groups_capped_total", rule="burst") == 1
            [d] = await h.store.list_deliveries(DeliveryQuery())
            group = await h.store.group_of_delivery(d.id)
            assert group is not None and group.members == 7
            assert len(await h.store.group_member_ids(group.id, 100)) == 7

        run(tmp_path, {"hook": http_sink(server.url)}, body, clock=clock)


def test_a_group_whose_rule_is_gone_after_a_reload_is_recorded_dead_with_the_reason(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            use_rules(h, tmp_path)
            await result(h, "run_a", "a1")
            ungrouped = "\n".join(line for line in RULES.splitlines() if "group: {" not in line)
            use_rules(h, tmp_path, ungrouped.replace("name: burst", "name: renamed"))
            clock.advance(30)
            flusher = h.dispatcher.groups
            assert await flusher.flush() == 1  # no rule groups any more: leftovers are still drained
            clock.advance(flusher.every)
            assert flusher.flush_is_due() is False  # looked for only every IDLE_FLUSH_EVERY_SECONDS
            use_rules(h, tmp_path)  # a reload brings group: back: flushes every second again at once
            assert flusher.flush_is_due() is True
            assert server.received == []
            [d] = await h.store.list_deliveries(DeliveryQuery())
            assert d.state.value == "dead"
            assert d.last_error == "group not sent: rule 'burst' has no action 0 to sink 'hook' any more"
            assert await h.store.open_groups(10) == []

        run(tmp_path, {"hook": http_sink(server.url)}, body, clock=clock)


def test_a_template_error_in_a_grouped_message_is_a_dead_delivery_with_the_reason(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            use_rules(h, tmp_path, RULES.replace('group.counts_by("data.result.status")', "group.nope.deeper"))
            await result(h, "run_a", "a1")
            clock.advance(30)
            await h.dispatcher.run_once()
            [d] = await h.store.list_deliveries(DeliveryQuery())
            assert (d.state.value, server.received) == ("dead", [])
            assert d.last_error is not None and "template error" in d.last_error and "nope" in d.last_error

        run(tmp_path, {"hook": http_sink(server.url)}, body, clock=clock)


def test_flushes_are_spaced_between_claims_but_run_once_always_flushes(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            use_rules(h, tmp_path)
            flusher = h.dispatcher.groups
            await result(h, "run_a", "a1")
            clock.advance(0.5)
            await result(h, "run_b", "b1")
            await result(h, "run_c", "c1")
            clock.now = 1030.0
            assert await flusher.flush() == 1  # run_a; run_b and run_c are due at 1030.5
            clock.now = 1030.5
            assert await flusher.flush() == 0  # flushed less than FLUSH_EVERY_SECONDS ago
            assert await h.dispatcher.run_once() == 3  # forced: run_b and run_c queued, and sent with run_a
            assert sorted(m["run"] for m in sent(server)) == ["run_a", "run_b", "run_c"]

        run(tmp_path, {"hook": http_sink(server.url)}, body, clock=clock)


def test_one_flush_goes_on_past_a_transaction_s_member_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(groups, "MEMBER_BUDGET", 3)
    clock = FakeClock(1000.0)
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            use_rules(h, tmp_path)
            for run in ("run_a", "run_b", "run_c"):
                await result(h, run, f"{run}-1")
                await result(h, run, f"{run}-2")
            clock.advance(30)
            assert await h.dispatcher.groups.flush(force=True) == 3  # three transactions: 2 + 2 + 2 members

        run(tmp_path, {"hook": http_sink(server.url)}, body, clock=clock)
