"""The Automated Future poller against a fake API (real HTTP) through the real preset sink."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from receiver.errors import DeliveryError
from receiver.polling import POLLERS
from receiver.polling.base import Fetch, PollResult
from receiver.sinks.client import HttpClient
from tests.platform_fakes import AF_PREFIX, PlatformFake, Step, af_result, automatedfuture
from tests.polling.helpers import preset_fetch
from tests.servers import Reply

pytestmark = pytest.mark.anyio

KEY = "af_key_0123456789SECRET"
RESULT = "res_def456"


@pytest.fixture
def fake() -> Iterator[PlatformFake]:
    with automatedfuture(KEY) as server:
        yield server


@pytest.fixture
def fetch(fake: PlatformFake, client: HttpClient) -> Fetch:
    # The documented base URL has a path (/v1/test): the fake serves under it too.
    return preset_fetch("automatedfuture", client, fake.url + AF_PREFIX, KEY, timeout_seconds=1)


async def poll(fetch: Fetch, cursor: dict[str, Any], result_id: str = RESULT) -> PollResult:
    return await POLLERS["automatedfuture"].create().poll(result_id, cursor, fetch)


DONE = {"started_at": "2025-01-15T10:31:00Z", "finished_at": "2025-01-15T10:31:01Z", "execution_time_ms": 1250}
# Each scenario: the result's states, and per poll (key, data.test.outcome) of what it observed and
# whether it ends the polling.
Poll = tuple[str, dict[str, Any], list[tuple[str, str | None]], bool]
SCENARIOS: dict[str, list[Poll]] = {
    "passes": [
        ("Pending", {}, [("status:pending", None)], False),
        ("Running", {"started_at": "2025-01-15T10:31:00Z"}, [("status:running", None)], False),
        ("Running", {}, [], False),
        ("Passed", DONE, [("status:passed", "passed")], True),
    ],
    "fails": [
        ("Running", {}, [("status:running", None)], False),
        ("Failed", {**DONE, "error_message": "Assertion failed"}, [("status:failed", "failed")], True),
    ],
    "known failure": [("KnownFail", DONE, [("status:knownfail", "known_failure")], True)],
    "skipped": [("Skipped", {}, [("status:skipped", "skipped")], True)],
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=list(SCENARIOS))
async def test_polls_show_each_status_once(scenario: str, fake: PlatformFake, fetch: Fetch) -> None:
    steps = SCENARIOS[scenario]
    fake.add(RESULT, *(Step(af_result(RESULT, status, **extra)) for status, extra, _, _ in steps))
    cursor: dict[str, Any] = {}
    for i, (_, _, expected, final) in enumerate(steps):
        if i:
            fake.advance(RESULT)
        result = await poll(fetch, cursor)
        seen = [(o.key, o.normalized.data["test"]["outcome"]) for o in result.observations]
        assert seen == expected, f"poll {i + 1}"
        assert all(o.normalized.type == "result.reported" for o in result.observations)
        assert result.final is final, f"poll {i + 1}"
        cursor = result.cursor
    assert (await poll(fetch, cursor)).observations == []


async def test_the_event_is_the_webhook_adapters(fake: PlatformFake, fetch: Fetch) -> None:
    fake.add(RESULT, Step(af_result(RESULT, "Failed", **DONE, error_message="Assertion failed")))
    result = await poll(fetch, {})
    (n,) = (o.normalized for o in result.observations)
    assert n.platform == "automatedfuture" and n.platform_event == "test_result.failed"
    assert n.data["test"] == {
        "id": RESULT,
        "name": "test_user_login",
        "status": "Failed",
        "outcome": "failed",
        "error_message": "Assertion failed",
        "duration_ms": 1250,
    }
    assert n.data["run"]["id"] == "run_xyz789" and n.data["run"]["name"] == "Nightly tests"
    assert n.time == "2025-01-15T10:31:01Z"
    assert result.answer == {"test_result": af_result(RESULT, "Failed", **DONE, error_message="Assertion failed")}
    (request,) = fake.received
    assert request.path == f"{AF_PREFIX}/result/{RESULT}" and request.headers["authorization"] == KEY


FAILURES: dict[str, tuple[Reply, int, float | None, bool]] = {
    "rate limited": (Reply(429, {"message": "slow down"}, {"Retry-After": "30"}), 429, 30.0, True),
    "server error": (Reply(500, {"message": "Unexpected server error"}), 500, None, True),
}


@pytest.mark.parametrize("name", FAILURES, ids=list(FAILURES))
async def test_failed_answers_raise_delivery_errors(name: str, fake: PlatformFake, fetch: Fetch) -> None:
    reply, status, retry_after, retryable = FAILURES[name]
    fake.add(RESULT, Step(af_result(RESULT, "Running")))
    fake.fault(reply)
    with pytest.raises(DeliveryError) as caught:
        await poll(fetch, {})
    assert (caught.value.status, caught.value.retry_after, caught.value.retryable) == (status, retry_after, retryable)


async def test_a_run_cannot_be_read(fake: PlatformFake, fetch: Fetch) -> None:
    """The API has no GET of a test run: polling a run id gets the platform's 404, which is permanent."""
    with pytest.raises(DeliveryError) as caught:
        await poll(fetch, {}, result_id="run_xyz789")
    assert caught.value.status == 404 and not caught.value.retryable


async def test_a_hanging_platform_times_out(fake: PlatformFake, fetch: Fetch) -> None:
    fake.add(RESULT, Step(af_result(RESULT, "Running")))
    fake.hang(5)
    with pytest.raises(DeliveryError, match="timed out after 1s") as caught:
        await poll(fetch, {})
    assert caught.value.retryable


async def test_there_is_nothing_to_discover(fetch: Fetch) -> None:
    spec = POLLERS["automatedfuture"]
    assert not spec.can_discover
    with pytest.raises(NotImplementedError):
        await spec.create().discover({}, fetch)
