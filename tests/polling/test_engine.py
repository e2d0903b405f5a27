"""The poll engine in-process (receiver/polling/engine.py): a fake clock, a real SQLite file, real
sinks and rules, and a fake Fusillade on loopback whose test changes state over time, answers
429 with Retry-After, 500, hangs, and echoes credentials."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from receiver.delivery.limits import TokenBucket
from receiver.polling.base import Discovered, Fetch, PollerSpec
from receiver.polling.fusillade import FusilladePoller
from receiver.store.base import EventQuery
from receiver.store.polls import Polled
from tests.helpers import FakeClock, assert_no_secret
from tests.polling.fake_fusillade import API_KEY, FakeFusillade
from tests.polling.harness import Polling
from tests.servers import RecordingServer, Reply
from tests.sources.helpers import validator

START = 1000.0
Body = Callable[[Polling], Awaitable[None]]


@pytest.fixture
def fake() -> Iterator[FakeFusillade]:
    with FakeFusillade() as server:
        yield server


@pytest.fixture
def hook() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def drive(tmp_path: Path, fake: FakeFusillade, hook: RecordingServer) -> Callable[..., None]:
    def run(body: Body, bucket: TokenBucket | None = None, **options: Any) -> None:
        async def main() -> None:
            async with Polling(tmp_path, fake, hook.url, FakeClock(START), bucket, **options) as p:
                await body(p)

        asyncio.run(main())

    return run


def test_each_new_state_is_one_event_until_the_run_is_final(drive: Callable[..., None], fake: FakeFusillade) -> None:
    async def body(p: Polling) -> None:
        fake.set("t-1", "provisioning")
        await p.watch("t-1")
        assert await p.poll() == 1
        assert await p.events() == [("run.queued", "provisioning", "poll")]
        for _ in range(2):  # the same state again: nothing new, the interval kept
            p.clock.advance(15)
            assert await p.poll() == 1
            assert (await p.row("t-1")).due_at == p.clock() + 15
        fake.set("t-1", "running")
        p.clock.advance(15)
        await p.poll()
        fake.set("t-1", "completed", p95_latency_ms=88.5, error_rate=0.001,
                 threshold_results=[{"name": "p95<100", "passed": True}])  # fmt: skip
        p.clock.advance(14)
        assert await p.poll() == 0  # not due yet
        p.clock.advance(1)
        await p.poll()
        assert await p.events() == [
            ("run.queued", "provisioning", "poll"), ("run.started", "running", "poll"),
            ("run.completed", "completed", "poll"),
        ]  # fmt: skip
        row = await p.row("t-1")
        assert (row.state, row.polls, row.unchanged, row.failures, row.last_status) == ("done", 5, 0, 0, 200)
        p.clock.advance(3600)
        assert await p.poll() == 0  # done: never polled again
        assert fake.gets("t-1") == 5
        # The event is a webhook's twin: the raw answer as its body, the same fields, its run final.
        (done,) = await p.store.list_events(EventQuery(type="run.completed"))
        assert json.loads(done.body)["status"] == "completed"
        run = done.envelope["data"]["run"]
        assert (run["id"], run["outcome"], run["key"]) == ("t-1", "passed", row.run_key or run["key"])
        metrics = done.envelope["data"]["metrics"]
        assert (metrics["p95_latency_ms"], metrics["error_rate"]) == (88.5, 0.001)
        (threshold,) = done.envelope["data"]["thresholds"]
        assert (threshold["name"], threshold["passed"]) == ("p95<100", True)
        assert done.matched_rules == ["finished"]
        stored = await p.store.get_run(run["key"])
        assert stored is not None and (stored.status, stored.outcome, stored.final) == ("completed", "passed", True)
        assert p.woken == 1  # the dispatcher was told about the planned delivery
        text = p.metrics.render().decode()
        assert 'hookyard_polls_total{platform="fusillade",result="changed"} 3.0' in text
        assert 'hookyard_polls_total{platform="fusillade",result="unchanged"} 2.0' in text

    drive(body)


def test_failures_back_off_honour_retry_after_and_a_hang_is_cut(
    drive: Callable[..., None], fake: FakeFusillade
) -> None:
    async def body(p: Polling) -> None:
        fake.set("t-1", "running")
        fake.fail(Reply(500, {"error": "boom", "code": "internal_error"}), Reply(500, {"error": "boom"}),
                  Reply(429, {"error": "slow down", "code": "rate_limited"}, headers={"Retry-After": "300"}),
                  Reply(200, {"status": "running"}, delay=3))  # fmt: skip
        await p.watch("t-1")
        waits = []
        for _ in range(5):
            await p.poll()
            row = await p.row("t-1")
            waits.append((row.failures, row.due_at - p.clock(), row.last_status))
            p.clock.advance(row.due_at - p.clock())
        assert waits == [
            (1, 30.0, 500), (2, 60.0, 500),  # doubling
            (3, 300.0, 429),  # Retry-After, longer than the cap (120 s), wins
            (4, 120.0, 429),  # the hang, cut by the sink's 1 s timeout: no answer, capped
            (0, 15.0, 200),  # answered: back to the interval
        ]  # fmt: skip
        history = await p.store.poll_history("fusillade", "t-1", 10)
        assert [(h.status, h.error_class, h.observations) for h in reversed(history)] == [
            (500, "http_500", 0), (500, "http_500", 0), (429, "http_429", 0), (None, "transient", 0), (200, None, 1),
        ]  # fmt: skip
        assert "time" in (history[1].reason or "")  # the hang says it timed out
        assert await p.events() == [("run.started", "running", "poll")]
        text = p.metrics.render().decode()
        assert 'hookyard_polls_total{platform="fusillade",result="throttled"} 1.0' in text
        assert 'hookyard_polls_total{platform="fusillade",result="failed"} 3.0' in text

    drive(body)


def test_a_run_not_final_after_max_duration_times_out_once(drive: Callable[..., None], fake: FakeFusillade) -> None:
    async def body(p: Polling) -> None:
        fake.set("t-1", "running")
        await p.watch("t-1")
        await p.poll()
        while (row := await p.row("t-1")).state == "watching":
            p.clock.advance(row.due_at - p.clock())
            await p.poll()
        assert row.state == "gave_up"
        assert p.clock() == START + 3600  # the last wait ended at the give-up time, not past it
        assert row.last_error is not None and row.last_error.startswith("gave up after 1 h")
        events = await p.events()
        assert events[0] == ("run.started", "running", "poll")
        assert events[1:] == [("run.timed_out", "timed_out", "poll")]
        gets = fake.gets("t-1")
        p.clock.advance(3600)
        assert await p.poll() == 0 and fake.gets("t-1") == gets
        assert 'hookyard_poll_give_ups_total{platform="fusillade"} 1.0' in p.metrics.render().decode()
        for stored in await p.store.list_events(EventQuery()):  # polled events are envelopes like any other
            validator().validate(stored.envelope)

    drive(body)


def test_a_poll_lost_before_it_was_recorded_makes_no_second_event(
    drive: Callable[..., None], fake: FakeFusillade
) -> None:
    async def body(p: Polling) -> None:
        fake.set("t-1", "running")
        await p.watch("t-1")
        real_finish = p.store.finish_poll

        async def crash(source_id: str, run_id: str, owner: str, polled: Polled) -> bool:
            raise RuntimeError("the process died here")

        p.store.finish_poll = crash  # type: ignore[method-assign]
        await p.poll()  # the event is stored, the poll (and its cursor) is not
        p.store.finish_poll = real_finish  # type: ignore[method-assign]
        p.clock.advance(30)
        assert await p.new_engine().run_once() == 0  # still leased by the dead one
        p.clock.advance(31)
        assert await p.new_engine().run_once() == 1  # its lease ran out: another resumes
        assert await p.events() == [("run.started", "running", "poll")]
        row = await p.row("t-1")
        assert (row.polls, row.cursor) == (1, {"status": "running", "visits": {"running": 1}})
        assert fake.gets("t-1") == 2

    drive(body)


def test_the_sinks_rate_limit_holds_polls_back_without_asking(drive: Callable[..., None], fake: FakeFusillade) -> None:
    clock = FakeClock(0.0)
    bucket = TokenBucket(0.01, 1, clock)  # one request per 100 s

    async def body(p: Polling) -> None:
        for run_id in ("t-1", "t-2"):
            fake.set(run_id, "running")
            await p.watch(run_id)
        assert await p.poll() == 2
        asked = [await p.row(r) for r in ("t-1", "t-2")]
        assert sorted(r.polls for r in asked) == [0, 1]  # one asked, one given back
        held = next(r for r in asked if r.polls == 0)
        assert held.due_at == pytest.approx(p.clock() + 100) and held.last_status is None
        assert fake.gets("t-1") + fake.gets("t-2") == 1
        assert 'result="held_back"} 1.0' in p.metrics.render().decode()

    drive(body, bucket)


def test_no_secret_reaches_the_poll_record_or_the_logs(
    drive: Callable[..., None], fake: FakeFusillade, caplog: pytest.LogCaptureFixture
) -> None:
    fake.keys = {"the-wrong-key"}  # the fake refuses ours and echoes it back in its answer

    async def body(p: Polling) -> None:
        await p.watch("t-1")
        with caplog.at_level(logging.DEBUG):
            await p.poll()
        row = await p.row("t-1")
        history = await p.store.poll_history("fusillade", "t-1", 10)
        assert row.last_status == 401 and history[0].status == 401
        assert_no_secret([row.last_error or "", *(h.reason or "" for h in history), caplog.text], [API_KEY])
        assert row.last_error

    drive(body)


class Listing(FusilladePoller):
    """Fusillade with a list endpoint (it documents none): GET /api/v1/tests?status=…."""

    async def discover(self, options: Mapping[str, Any], fetch: Fetch) -> list[Discovered]:
        answer = await fetch("/api/v1/tests", {"status": str(options["status"])})
        return [Discovered(str(t["test_id"])) for t in answer.body["tests"]]


def test_watch_starts_polling_the_runs_a_listing_finds(drive: Callable[..., None], fake: FakeFusillade) -> None:
    listed = [{"test_id": "t-7"}, {"test_id": "t-8"}]
    fake.fail(Reply(200, {"tests": listed}))  # the next answer: the listing
    pollers = {"fusillade": PollerSpec("fusillade", Listing, can_discover=True)}

    async def body(p: Polling) -> None:
        fake.set("t-7", "running")
        fake.set("t-8", "completed")
        assert await p.engine.watcher.maybe_discover() == 2
        assert await p.engine.watcher.maybe_discover() == 0  # not again before watch_interval_seconds
        assert await p.poll() == 2
        assert sorted(await p.events()) == [("run.completed", "completed", "poll"), ("run.started", "running", "poll")]
        p.clock.advance(60)
        fake.fail(Reply(200, {"tests": listed}))
        assert await p.engine.watcher.maybe_discover() == 0  # found again: watched already
        listing, *_, again = [r for r in fake.server.received if r.method == "GET"]
        assert (listing.path, listing.query, again.path) == ("/api/v1/tests", {"status": "running"}, "/api/v1/tests")

    drive(body, poll=", watch: {status: running}", pollers=pollers)
