"""The nunu poller against a fake nunu API (real HTTP) through the real nunu preset sink."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from receiver.errors import DeliveryError
from receiver.polling import POLLERS
from receiver.polling.base import Fetch, PollResult
from receiver.polling.nunu import MAX_BUG_IDS
from receiver.sinks.client import HttpClient
from tests.helpers import assert_no_secret
from tests.platform_fakes import PlatformFake, Step, nunu, nunu_bug, nunu_run
from tests.polling.helpers import preset_fetch
from tests.servers import Reply

pytestmark = pytest.mark.anyio

KEY = "nunu_key_0123456789SECRET"
RUN = "run_7f3a"
B1, B2, B3 = nunu_bug("b-1", "Player falls through floor"), nunu_bug("b-2", "Crash on pause"), nunu_bug("b-3", "Typo")


@pytest.fixture
def fake() -> Iterator[PlatformFake]:
    with nunu(KEY) as server:
        yield server


@pytest.fixture
def fetch(fake: PlatformFake, client: HttpClient) -> Fetch:
    return preset_fetch("nunu", client, fake.url, KEY, timeout_seconds=1)


async def poll(fetch: Fetch, cursor: dict[str, Any], run_id: str = RUN) -> PollResult:
    return await POLLERS["nunu"].create().poll(run_id, cursor, fetch)


# Each scenario: the run's steps on the platform, and for each step the (key, type) of the
# observations one poll makes and whether it ends the polling.
SCENARIOS = {
    "completes with bugs appearing": [
        (Step(nunu_run(RUN, "queued")), [("status:queued", "run.queued")], False),
        (Step(nunu_run(RUN, "running", startedAt="2026-02-06T12:00:00Z")), [("status:running", "run.started")], False),
        (Step(nunu_run(RUN, "running"), [B1]), [("bug:b-1", "bug.reported")], False),
        (Step(nunu_run(RUN, "running"), [B1]), [], False),  # the same state again: nothing new
        (Step(nunu_run(RUN, "running"), [B1, B2]), [("bug:b-2", "bug.reported")], False),
        (
            Step(nunu_run(RUN, "completed", result="failed", finishedAt="2026-02-06T12:09:00Z"), [B1, B2, B3]),
            [("bug:b-3", "bug.reported"), ("status:completed", "run.completed")],  # its last bugs before the end
            True,
        ),
    ],
    "passes straight away": [
        (Step(nunu_run(RUN, "running"), [B1]), [("status:running", "run.started"), ("bug:b-1", "bug.reported")], False),
        (Step(nunu_run(RUN, "passed"), [B1]), [("status:passed", "run.completed")], True),
    ],
    "breaks": [
        (Step(nunu_run(RUN, "pending")), [("status:pending", "run.queued")], False),
        (Step(nunu_run(RUN, "error")), [("status:error", "run.failed")], True),
    ],
    "is cancelled": [
        (Step(nunu_run(RUN, "running")), [("status:running", "run.started")], False),
        (Step(nunu_run(RUN, "cancelled")), [("status:cancelled", "run.cancelled")], True),
    ],
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=list(SCENARIOS))
async def test_polls_show_each_change_once(scenario: str, fake: PlatformFake, fetch: Fetch) -> None:
    steps = SCENARIOS[scenario]
    fake.add(RUN, *(step for step, _, _ in steps))
    cursor: dict[str, Any] = {}
    for i, (_, expected, final) in enumerate(steps):
        if i:
            fake.advance(RUN)
        result = await poll(fetch, cursor)
        assert [(o.key, o.normalized.type) for o in result.observations] == expected, f"poll {i + 1}"
        assert result.final is final, f"poll {i + 1}"
        cursor = result.cursor
    again = await poll(fetch, cursor)  # polled once more after the end: no event twice
    assert again.observations == []


async def test_events_carry_the_sections_a_webhook_would(fake: PlatformFake, fetch: Fetch) -> None:
    done = nunu_run(
        RUN,
        "completed",
        result="failed",
        url="https://app.nunu.ai/runs/run_7f3a",
        finishedAt="2026-02-06T12:09:00Z",
        summary={"total": 12, "passed": 10, "failed": 2},
        artifacts=[{"name": "video.mp4", "url": "https://cdn.nunu.ai/a/video.mp4"}],
    )
    fake.add(RUN, Step(done, [B1]))
    result = await poll(fetch, {})
    bug, end = (o.normalized for o in result.observations)
    assert end.platform == "nunu" and end.subject == RUN
    assert end.data["run"] == {
        "id": RUN,
        "name": "Smoke test plan",
        "project": "proj_1",
        "status": "completed",
        "outcome": "failed",
        "url": "https://app.nunu.ai/runs/run_7f3a",
        "ci_url": None,
        "started_at": None,
        "finished_at": "2026-02-06T12:09:00Z",
        "duration_ms": None,
    }
    assert end.data["counts"] == {"total": 12, "passed": 10, "failed": 2, "skipped": None, "known_failure": None}
    assert end.raw["artifacts"][0]["url"] == "https://cdn.nunu.ai/a/video.mp4"  # the answer is the stored body
    assert bug.data["bug"] == {
        "id": "b-1",
        "title": "Player falls through floor",
        "severity": "major",
        "url": "https://app.nunu.ai/bugs/b-1",
    }
    assert bug.data["run"]["id"] == RUN and bug.time == "2026-02-06T12:05:00Z"
    assert result.answer == {"run": done, "bugs": {"bugs": [B1]}}


async def test_a_run_answer_without_its_id_still_names_the_run(fake: PlatformFake, fetch: Fetch) -> None:
    fake.add(RUN, Step({"status": "running"}))
    (step,) = (await poll(fetch, {})).observations
    assert step.normalized.data["run"]["id"] == RUN and step.normalized.subject == RUN


async def test_a_waiting_run_costs_one_request(fake: PlatformFake, fetch: Fetch) -> None:
    fake.add(RUN, Step(nunu_run(RUN, "queued")), Step(nunu_run(RUN, "running")))
    cursor = (await poll(fetch, {})).cursor
    fake.advance(RUN)
    await poll(fetch, cursor)
    assert [r.path for r in fake.received] == [f"/runs/{RUN}", f"/runs/{RUN}", f"/runs/{RUN}/bugs"]
    assert {r.headers["x-api-key"] for r in fake.received} == {KEY}


async def test_the_bug_memory_is_bounded(fake: PlatformFake, fetch: Fetch) -> None:
    many = [nunu_bug(f"b-{i}", "bug") for i in range(MAX_BUG_IDS + 5)]
    fake.add(RUN, Step(nunu_run(RUN, "running"), many))
    result = await poll(fetch, {})
    assert len(result.observations) == MAX_BUG_IDS + 6
    assert result.cursor["bugs"] == [f"b-{i}" for i in range(5, MAX_BUG_IDS + 5)]


async def test_a_run_id_is_one_path_segment(fake: PlatformFake, fetch: Fetch) -> None:
    with pytest.raises(DeliveryError) as caught:
        await poll(fetch, {}, run_id="../builds/upload")
    assert caught.value.status == 404
    assert fake.received[0].path == "/runs/..%2Fbuilds%2Fupload"


FAILURES: dict[str, tuple[Reply, int, float | None, bool]] = {
    "rate limited": (Reply(429, {"error": "Too Many Requests"}, {"Retry-After": "7"}), 429, 7.0, True),
    "server error": (Reply(500, {"error": "Internal Server Error"}), 500, None, True),
    "quota": (Reply(402, {"error": "Payment Required - Quota exceeded"}), 402, None, False),
}


@pytest.mark.parametrize("name", FAILURES, ids=list(FAILURES))
async def test_failed_answers_raise_delivery_errors(name: str, fake: PlatformFake, fetch: Fetch) -> None:
    reply, status, retry_after, retryable = FAILURES[name]
    fake.add(RUN, Step(nunu_run(RUN, "running")))
    fake.fault(reply)
    with pytest.raises(DeliveryError) as caught:
        await poll(fetch, {"status": "queued"})
    error = caught.value
    assert (error.status, error.retry_after, error.retryable) == (status, retry_after, retryable)
    result = await poll(fetch, {"status": "queued"})  # the next poll sees what the failed one missed
    assert [o.key for o in result.observations] == ["status:running"]


async def test_a_hanging_platform_times_out(fake: PlatformFake, fetch: Fetch) -> None:
    fake.add(RUN, Step(nunu_run(RUN, "running")))
    fake.hang(5)
    with pytest.raises(DeliveryError) as caught:
        await poll(fetch, {})
    assert caught.value.retryable and caught.value.status is None and "timed out after 1s" in caught.value.reason


async def test_a_wrong_key_is_refused_and_not_shown(fake: PlatformFake, client: HttpClient) -> None:
    fake.add(RUN, Step(nunu_run(RUN, "running")))
    wrong = "nunu_key_WRONG_9876543210"
    with pytest.raises(DeliveryError) as caught:
        await poll(preset_fetch("nunu", client, fake.url, wrong), {})
    assert caught.value.status == 401 and not caught.value.retryable
    assert fake.received[0].headers["x-api-key"] == wrong
    assert_no_secret([str(caught.value), caught.value.response_excerpt or ""], [wrong])


DISCOVERY: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "unfinished by default": ({}, "queued,running", ["r-queued", "r-running"]),
    "one status": ({"status": "running"}, "running", ["r-running"]),
    "a list": ({"status": ["completed", "Queued"]}, "completed,queued", ["r-queued", "r-done"]),
}


@pytest.mark.parametrize("name", DISCOVERY, ids=list(DISCOVERY))
async def test_discovery_lists_runs_by_status(name: str, fake: PlatformFake, fetch: Fetch) -> None:
    options, sent, expected = DISCOVERY[name]
    for run_id, status in (("r-queued", "queued"), ("r-running", "running"), ("r-done", "completed")):
        fake.add(run_id, Step(nunu_run(run_id, status)))
    spec = POLLERS["nunu"]
    assert spec.can_discover
    found = await spec.create().discover(options, fetch)
    assert [d.run_id for d in found] == expected
    assert fake.requests("/runs")[0].query == {"status": sent}


async def test_discovery_keeps_only_the_asked_statuses(client: HttpClient) -> None:
    """A platform that ignores the filter does not start polls of finished runs."""
    with PlatformFake(("X-Api-Key", KEY), [(r"/runs", lambda f, m, g: Reply(200, [
        nunu_run("r-1", "running"), nunu_run("r-2", "completed"), {"status": "running"},
    ]))]) as fake:  # fmt: skip
        found = await POLLERS["nunu"].create().discover({}, preset_fetch("nunu", client, fake.url, KEY))
    assert [(d.run_id, d.status) for d in found] == [("r-1", "running")]


async def test_a_run_can_move_on_by_itself(fake: PlatformFake, fetch: Fetch) -> None:
    """For a daemon polling in another process: the fake steps the run after every 2 answers."""
    fake.add(RUN, Step(nunu_run(RUN, "queued")), Step(nunu_run(RUN, "running"), [B1]), Step(nunu_run(RUN, "passed")),
             every=2)  # fmt: skip
    cursor: dict[str, Any] = {}
    seen = []
    for _ in range(6):
        result = await poll(fetch, cursor)
        seen.append([o.key for o in result.observations])
        cursor = result.cursor
    assert seen == [["status:queued"], [], ["status:running", "bug:b-1"], [], ["status:passed"], []]
