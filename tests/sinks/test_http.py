from __future__ import annotations

from typing import Any

import pytest

from receiver.errors import DeliveryError
from receiver.sinks import SINKS
from receiver.sinks.base import SendContext
from receiver.sinks.client import HttpClient
from tests.servers import RecordingServer, Reply, free_port
from tests.sinks.actions import send

pytestmark = pytest.mark.anyio

TOKEN = "sk_live_verysecret123"
CTX = SendContext(delivery_id="dlv_01HZZTEST", attempt=1, event={"id": "evt_1", "data": {}})


def make(client: HttpClient, base_url: str | None, **extra: Any) -> Any:
    spec = SINKS["http"]
    config = spec.config.model_validate(
        {
            "base_url": base_url,
            "headers": {"Authorization": f"Bearer {TOKEN}"},
            "allow_private": True,
            **extra,
        }
    )
    return spec.create("api", config, client)


def request(**req: Any) -> dict[str, Any]:
    return {"request": req}


async def test_idempotency_key_is_stable_across_attempts_and_json_answer_is_kept(
    server: RecordingServer, client: HttpClient
) -> None:
    server.script(Reply(503, "busy"), Reply(200, {"test_id": "t_9", "ok": True}, headers={"X-Trace": "abc"}))
    sink = make(client, server.url)
    params = request(path="/api/v1/things", json={"name": "n", "count": 2}, query={"wait": "true"})
    with pytest.raises(DeliveryError) as info:
        await send(sink, params, CTX)
    assert info.value.retryable and info.value.status == 503
    result = await send(sink, params, SendContext(CTX.delivery_id, 2, CTX.event))
    assert result.status == 200
    assert result.body == {"test_id": "t_9", "ok": True}
    assert result.headers["x-trace"] == "abc"
    first, second = server.received
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "dlv_01HZZTEST"
    assert second.method == "POST" and second.path == "/api/v1/things"
    assert second.query == {"wait": "true"}
    assert second.json == {"name": "n", "count": 2}
    assert second.headers["authorization"] == f"Bearer {TOKEN}"
    assert second.headers["user-agent"].startswith("hookyard/")


@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after"),
    [
        (Reply(429, "slow down", {"Retry-After": "17"}), True, 17.0),
        (Reply(500, "oops"), True, None),
        (Reply(408, ""), True, None),
        (Reply(400, {"error": "bad"}), False, None),
        (Reply(404, "nope"), False, None),
        (Reply(302, "", {"Location": "http://169.254.169.254/"}), False, None),
    ],
)
async def test_failures_are_classified(
    server: RecordingServer,
    client: HttpClient,
    reply: Reply,
    retryable: bool,
    retry_after: float | None,
) -> None:
    server.script(reply)
    with pytest.raises(DeliveryError) as info:
        await send(make(client, server.url), request(method="GET", path="/x"), CTX)
    err = info.value
    assert err.status == reply.status
    assert err.retryable is retryable
    assert err.retry_after == retry_after
    assert len(server.received) == 1  # redirects are never followed


async def test_timeout_is_retryable(server: RecordingServer, client: HttpClient) -> None:
    server.script(Reply(200, {}, delay=1.0))
    sink = make(client, server.url, timeout_seconds=0.2)
    with pytest.raises(DeliveryError) as info:
        await send(sink, request(path="/slow"), CTX)
    assert info.value.retryable and "timed out" in info.value.reason


async def test_connection_refused_is_retryable(client: HttpClient) -> None:
    sink = make(client, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DeliveryError) as info:
        await send(sink, request(path="/x"), CTX)
    assert info.value.retryable


async def test_echoed_secret_is_redacted_from_reason_and_excerpt(server: RecordingServer, client: HttpClient) -> None:
    server.script(Reply(401, f"invalid token Bearer {TOKEN}"))
    sink = make(client, server.url)
    with pytest.raises(DeliveryError) as info:
        await send(sink, request(path="/x"), CTX)
    err = info.value
    assert not err.retryable
    for text in (err.reason, err.response_excerpt or "", str(err), repr(sink), sink.describe()):
        assert TOKEN not in text
    assert "<redacted>" in (err.response_excerpt or "")
    assert "Authorization" in sink.describe()


async def test_private_destination_refused_without_allow_private(server: RecordingServer, client: HttpClient) -> None:
    sink = make(client, server.url, allow_private=False)
    with pytest.raises(DeliveryError) as info:
        await send(sink, request(path="/x"), CTX)
    assert not info.value.retryable and "loopback" in info.value.reason
    assert server.received == []


async def test_absolute_url_off_the_base_origin_is_refused(server: RecordingServer, client: HttpClient) -> None:
    sink = make(client, server.url)
    with pytest.raises(DeliveryError, match="origin") as info:
        await send(sink, request(url="http://127.0.0.2:9/steal"), CTX)
    assert not info.value.retryable
    same = await send(sink, request(url=f"{server.url}/same?x=1"), CTX)
    assert same.status == 200 and server.received[0].path == "/same"


async def test_without_base_url_any_absolute_url_works(server: RecordingServer, client: HttpClient) -> None:
    sink = make(client, None)
    await send(sink, request(method="PUT", url=f"{server.url}/a/b", headers={"X-Extra": "1"}), CTX)
    got = server.received[0]
    assert (got.method, got.path, got.headers["x-extra"]) == ("PUT", "/a/b", "1")
    with pytest.raises(DeliveryError, match="base_url"):
        await send(sink, request(path="/relative"), CTX)


@pytest.mark.parametrize(
    "params",
    [
        {"request": {"path": "/a", "url": "http://x/"}},
        {"request": {}},
        {"request": {"path": "/a", "method": "TRACE"}},
        {},
    ],
)
async def test_bad_action_params_are_permanent(client: HttpClient, params: dict[str, Any]) -> None:
    with pytest.raises(DeliveryError) as info:
        await send(make(client, "http://127.0.0.1:9"), params, CTX)
    assert not info.value.retryable and "invalid action params" in info.value.reason
