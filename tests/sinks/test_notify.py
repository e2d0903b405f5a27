"""The ``apprise`` sink against real local servers: Slack-shaped webhooks, json://, SMTP."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.errors import DeliveryError
from receiver.sinks import SINKS
from receiver.sinks.base import DeliveryOptions, SendContext
from receiver.sinks.client import HttpClient
from tests.servers import RecordingServer, Reply, SmtpSink, free_port
from tests.sinks.actions import send

pytestmark = pytest.mark.anyio

SLACK_SECRET = "xoxSECRETtokenC0123"
SLACK_URL = f"slack://T0AAAA/B0BBBB/{SLACK_SECRET}/#ci-alerts"
CTX = SendContext("dlv_n1", 1, {"id": "evt_1"})


def make(client: HttpClient, urls: list[Any], **extra: Any) -> Any:
    spec = SINKS["apprise"]
    return spec.create("notify", spec.config.model_validate({"urls": urls, **extra}), client)


def slack_sink(client: HttpClient, server: RecordingServer, url: str = SLACK_URL) -> Any:
    return make(client, [url], slack_base_url=f"{server.url}/services")


@pytest.mark.parametrize(
    "url",
    [SLACK_URL, f"https://hooks.slack.com/services/T0AAAA/B0BBBB/{SLACK_SECRET}"],
)
async def test_slack_webhook_is_posted_directly(server: RecordingServer, client: HttpClient, url: str) -> None:
    server.script(Reply(200, "ok"))
    result = await send(slack_sink(client, server, url), {"title": "Load test", "body": "p95 ok"}, CTX)
    assert result.response_excerpt == "notified 1 service(s)"
    got = server.received[0]
    assert got.method == "POST" and got.path == f"/services/T0AAAA/B0BBBB/{SLACK_SECRET}"
    assert got.json["text"] == "*Load test*\np95 ok"
    assert got.json.get("channel") == ("#ci-alerts" if url.startswith("slack://") else None)


@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after", "code"),
    [
        (Reply(429, "rate_limited", {"Retry-After": "7"}), True, 7.0, "rate_limited"),
        (Reply(400, "invalid_payload"), False, None, "invalid_payload"),
        (Reply(404, "no_service"), False, None, "no_service"),
        (Reply(410, "channel_is_archived"), False, None, "channel_is_archived"),
        (Reply(500, "rollup_error"), True, None, "rollup_error"),
        (Reply(200, "not slack"), False, None, "not slack"),
    ],
)
async def test_slack_failures(
    server: RecordingServer,
    client: HttpClient,
    reply: Reply,
    retryable: bool,
    retry_after: float | None,
    code: str,
) -> None:
    server.script(reply)
    sink = slack_sink(client, server)
    with pytest.raises(DeliveryError) as info:
        await send(sink, {"body": "hello"}, CTX)
    err = info.value
    assert err.retryable is retryable
    assert err.retry_after == retry_after
    assert err.status == reply.status
    assert code in err.reason
    for text in (err.reason, err.response_excerpt or "", sink.describe(), repr(sink)):
        assert SLACK_SECRET not in text


async def test_slack_text_is_bounded(server: RecordingServer, client: HttpClient) -> None:
    server.script(Reply(200, "ok"))
    await send(slack_sink(client, server), {"body": "x" * 10_000}, CTX)
    assert len(server.received[0].json["text"]) == 4000


@pytest.mark.parametrize(
    ("urls", "given", "expected"),
    [
        ([SLACK_URL], None, 1.0),
        (["https://hooks.slack.com/services/T1/B1/C1"], None, 1.0),
        ([SLACK_URL], 0.2, 0.2),
        (["json://127.0.0.1:9/x"], None, None),
    ],
)
def test_slack_default_rate(urls: list[str], given: float | None, expected: float | None) -> None:
    extra = {} if given is None else {"rate_per_second": given}
    config = SINKS["apprise"].config.model_validate({"urls": urls, **extra})
    assert isinstance(config, DeliveryOptions) and config.rate_per_second == expected


async def test_email_is_delivered_through_smtp(smtp: SmtpSink, client: HttpClient) -> None:
    url = f"mailto://127.0.0.1:{smtp.port}?mode=insecure&from=ci@example.com&to=dev@example.com&name=CI%20Bot"
    sink = make(client, [url])
    await send(sink, {"title": "Run 42 failed", "body": "3 of 120 tests failed"}, CTX)
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["Subject"] == "Run 42 failed"
    assert msg["From"] == "CI Bot <ci@example.com>"
    assert msg["To"] == "dev@example.com"
    assert smtp.envelopes[0] == ("ci@example.com", ["dev@example.com"])
    plain = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
    payloads = [p.get_payload(decode=True) for p in plain]
    assert any(isinstance(b, bytes) and b"3 of 120 tests failed" in b for b in payloads)


async def test_email_to_closed_port_is_retryable(client: HttpClient) -> None:
    url = f"mailto://127.0.0.1:{free_port()}?mode=insecure&from=ci@example.com&to=dev@example.com"
    with pytest.raises(DeliveryError) as info:
        await send(make(client, [url], timeout_seconds=5), {"body": "x"}, CTX)
    assert info.value.retryable
    assert "mailto://127.0.0.1" in info.value.reason


async def test_json_url_posts_to_the_local_server(server: RecordingServer, client: HttpClient) -> None:
    sink = make(client, [f"json://127.0.0.1:{server.port}/notify"])
    await send(sink, {"title": "T", "body": "hello body", "format": "markdown"}, CTX)
    got = server.received[0]
    assert got.path == "/notify"
    assert got.json["title"] == "T" and got.json["message"] == "hello body"


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (404, False), (503, True), (429, True)])
async def test_json_url_failures_use_the_logged_status(
    server: RecordingServer, client: HttpClient, status: int, retryable: bool
) -> None:
    server.script(Reply(status, "nope"))
    with pytest.raises(DeliveryError) as info:
        await send(make(client, [f"json://127.0.0.1:{server.port}/n"]), {"body": "b"}, CTX)
    assert info.value.status == status
    assert info.value.retryable is retryable
    assert f"error={status}" in info.value.reason


async def test_partial_failure_names_the_failed_service(server: RecordingServer, client: HttpClient) -> None:
    server.responder = lambda got: Reply(500, "down") if got.path == "/bad" else Reply(200, {})
    sink = make(client, [f"json://127.0.0.1:{server.port}/good", f"json://127.0.0.1:{server.port}/bad"])
    with pytest.raises(DeliveryError) as info:
        await send(sink, {"body": "b"}, CTX)
    assert info.value.retryable
    assert info.value.reason.startswith("1 of 2 services failed")
    assert "/bad" in info.value.reason and "/good" not in info.value.reason


async def test_tags_select_urls(server: RecordingServer, client: HttpClient) -> None:
    urls = [
        {"url": f"json://127.0.0.1:{server.port}/ops", "tag": "ops, oncall"},
        {"url": f"json://127.0.0.1:{server.port}/qa", "tag": ["qa"]},
        {"url": f"json://127.0.0.1:{server.port}/audit", "tag": "always"},
    ]
    sink = make(client, urls)
    await send(sink, {"body": "b", "tag": "oncall"}, CTX)
    assert sorted(r.path for r in server.received) == ["/audit", "/ops"]
    server.received.clear()
    await send(sink, {"body": "b"}, CTX)
    assert sorted(r.path for r in server.received) == ["/audit", "/ops", "/qa"]


async def test_no_matching_tag_is_permanent(server: RecordingServer, client: HttpClient) -> None:
    sink = make(client, [{"url": f"json://127.0.0.1:{server.port}/ops", "tag": "ops"}])
    with pytest.raises(DeliveryError, match="no URL") as info:
        await send(sink, {"body": "b", "tag": "nobody"}, CTX)
    assert not info.value.retryable
    assert server.received == []


async def test_credentials_in_urls_stay_private(server: RecordingServer, client: HttpClient) -> None:
    password = "hunter2secretpw"
    server.script(Reply(401, f"bad password {password}"))
    sink = make(client, [f"json://bob:{password}@127.0.0.1:{server.port}/n", SLACK_URL])
    assert server.received == []
    for text in (sink.describe(), repr(sink)):
        assert password not in text and SLACK_SECRET not in text
    with pytest.raises(DeliveryError) as info:
        await send(make(client, [f"json://bob:{password}@127.0.0.1:{server.port}/n"]), {"body": "b"}, CTX)
    assert password not in info.value.reason
    assert server.received[0].headers["authorization"].startswith("Basic ")


def test_unparseable_url_is_a_config_error_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as info:
        SINKS["apprise"].config.model_validate({"urls": ["notaschema://user:pw-secret@host"]})
    messages = [e["msg"] for e in info.value.errors(include_input=False)]
    assert any("not a recognised Apprise URL" in m and "notaschema" in m for m in messages)
    assert not any("pw-secret" in m for m in messages)


@pytest.mark.parametrize(
    "params",
    [{}, {"body": "b", "format": "rtf"}, {"body": "b", "extra": 1}],
)
async def test_bad_action_params_are_permanent(client: HttpClient, params: dict[str, Any]) -> None:
    with pytest.raises(DeliveryError) as info:
        await send(make(client, ["json://127.0.0.1:9/x"]), params, CTX)
    assert not info.value.retryable


@pytest.mark.parametrize(
    ("params", "closed_port", "retryable", "reason"),
    [
        # The rule rendered an empty body: Apprise refuses it before sending, every time.
        ({"title": "T", "body": ""}, False, False, "No message body or attachment was specified."),
        ({"body": "b"}, True, True, "A Connection error occurred"),
    ],
)
async def test_failures_without_a_status_are_permanent_only_when_they_repeat(
    server: RecordingServer, client: HttpClient, params: dict[str, Any], closed_port: bool, retryable: bool,
    reason: str,
) -> None:
    port = free_port() if closed_port else server.port
    with pytest.raises(DeliveryError) as info:
        await send(make(client, [f"json://127.0.0.1:{port}/n"]), params, CTX)
    assert info.value.retryable is retryable
    assert info.value.status is None and reason in info.value.reason
    assert server.received == []
