from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.errors import DeliveryError
from receiver.sinks import SINKS
from receiver.sinks.base import SendContext
from receiver.sinks.client import HttpClient
from receiver.sinks.presets import PRESETS, PresetSink
from tests.servers import RecordingServer, Reply
from tests.sinks.actions import send

pytestmark = pytest.mark.anyio

KEY = "key_live_0123456789SECRET"
EVENT = {"id": "evt_1", "data": {"git": {"repo": "acme/shop", "sha": "abc123def456"}}}
CTX = SendContext("dlv_preset_1", 1, EVENT)


def make(kind: str, client: HttpClient, base_url: str, prefix: str = "") -> Any:
    spec = SINKS[kind]
    config = spec.config.model_validate({"api_key": KEY, "base_url": base_url + prefix, "allow_private": True})
    return spec.create(f"{kind}-1", config, client)


@pytest.mark.parametrize(
    ("kind", "prefix", "params", "method", "path", "auth_header", "auth_value", "body"),
    [
        (
            "fusillade",
            "",
            {"compare": {"test_id": "t_new", "baseline_id": "t_base"}},
            "GET",
            "/api/v1/tests/t_new/compare/t_base",
            "authorization",
            f"Bearer {KEY}",
            None,
        ),
        (
            "fusillade",
            "",
            {"run_template": {"template_id": "tpl_1", "overrides": {"workers": 50}}},
            "POST",
            "/api/v1/templates/tpl_1/run",
            "authorization",
            f"Bearer {KEY}",
            {"workers": 50},
        ),
        (
            "fusillade",
            "",
            {"get_test": {"test_id": "t/../x"}},
            "GET",
            "/api/v1/tests/t%2F..%2Fx",
            "authorization",
            f"Bearer {KEY}",
            None,
        ),
        (
            "bug0",
            "",
            {"run_tests": {"projectId": "p1", "url": "https://preview.example", "prNumber": 42}},
            "POST",
            "/api/run-tests",
            "x-api-key",
            KEY,
            {
                "projectId": "p1",
                "url": "https://preview.example",
                "prNumber": "42",
                "gitCommitSha": "abc123def456",
                "owner": "acme",
                "repo": "shop",
            },
        ),
        (
            "fume",
            "",
            {"trigger": {"projectId": "proj_1", "branch": "main"}},
            "POST",
            "/test/trigger",
            "authorization",
            KEY,
            {"projectId": "proj_1", "branch": "main"},
        ),
        (
            "nunu",
            "/v1",
            {"start_run": {"test": "smoke"}},
            "POST",
            "/v1/runs",
            "x-api-key",
            KEY,
            {"test": "smoke"},
        ),
        (
            "automatedfuture",
            "/v1/test",
            {"create_run": {"project_id": "project_abc", "label": "CI #42"}},
            "POST",
            "/v1/test/run/",
            "authorization",
            KEY,
            {"project_id": "project_abc", "label": "CI #42"},
        ),
        (
            "automatedfuture",
            "/v1/test",
            {
                "report_result": {
                    "project_id": "p",
                    "test_run_id": "run_1",
                    "test_name": "login",
                    "status": "Passed",
                }
            },
            "POST",
            "/v1/test/result/",
            "authorization",
            KEY,
            {"project_id": "p", "test_run_id": "run_1", "test_name": "login", "status": "Passed"},
        ),
        (
            "automatedfuture",
            "/v1/test",
            {"complete_run": {"test_run_id": "run_xyz789"}},
            "POST",
            "/v1/test/run/run_xyz789",
            "authorization",
            KEY,
            {"status": "Completed"},
        ),
        (
            "nunu",
            "/v1",
            {"request": {"method": "GET", "path": "/runs/r1/bugs", "query": {"page": "2"}}},
            "GET",
            "/v1/runs/r1/bugs",
            "x-api-key",
            KEY,
            None,
        ),
    ],
)
async def test_preset_builds_the_documented_call(
    server: RecordingServer,
    client: HttpClient,
    kind: str,
    prefix: str,
    params: dict[str, Any],
    method: str,
    path: str,
    auth_header: str,
    auth_value: str,
    body: Any,
) -> None:
    server.script(Reply(200, {"ok": True}))
    sink = make(kind, client, server.url, prefix)
    result = await send(sink, params, CTX)
    assert result.body == {"ok": True}
    got = server.received[0]
    assert (got.method, got.path) == (method, path)
    assert got.headers[auth_header] == auth_value
    assert got.headers["idempotency-key"] == "dlv_preset_1"
    assert got.json == body
    assert KEY not in sink.describe() and KEY not in repr(sink)


async def test_fusillade_compare_answer_is_kept_for_emit(server: RecordingServer, client: HttpClient) -> None:
    answer = {"regression": True, "regression_reasons": ["p95 latency increased 14.8%"]}
    server.script(Reply(200, answer))
    result = await send(make("fusillade", client, server.url), {"compare": {"test_id": "a", "baseline_id": "b"}}, CTX)
    assert result.body == answer


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        ("fusillade", "https://api.fusillade.io"),
        ("bug0", "https://app.bug0.com"),
        ("fume", "https://api.fumedev.com"),
        ("automatedfuture", "https://api.automatedfuture.co/v1/test"),
    ],
)
async def test_default_base_urls(kind: str, base: str, client: HttpClient) -> None:
    spec = SINKS[kind]
    sink = spec.create("x", spec.config.model_validate({"api_key": KEY}), client)
    assert isinstance(sink, PresetSink) and sink.base_url == base
    assert PRESETS[kind].base_url == base


def test_nunu_requires_base_url() -> None:
    with pytest.raises(ValidationError, match="base_url"):
        SINKS["nunu"].config.model_validate({"api_key": KEY})


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("fusillade", {}),
        ("fusillade", {"compare": {"test_id": "a", "baseline_id": "b"}, "get_test": {"test_id": "a"}}),
        ("bug0", {"run_tests": {}}),
        ("automatedfuture", {"complete_run": {}}),
    ],
)
async def test_bad_shortcut_params_are_permanent(
    server: RecordingServer, client: HttpClient, kind: str, params: dict[str, Any]
) -> None:
    with pytest.raises(DeliveryError) as info:
        await send(make(kind, client, server.url), params, CTX)
    assert not info.value.retryable
    assert server.received == []


async def test_raw_request_cannot_carry_the_key_to_another_host(server: RecordingServer, client: HttpClient) -> None:
    sink = make("fusillade", client, server.url)
    with pytest.raises(DeliveryError, match="origin"):
        await send(sink, {"request": {"url": "http://127.0.0.2:1/collect"}}, CTX)
    assert server.received == []


async def test_echoed_key_is_redacted(server: RecordingServer, client: HttpClient) -> None:
    server.script(Reply(401, {"error": f"invalid key {KEY}"}))
    with pytest.raises(DeliveryError) as info:
        await send(make("bug0", client, server.url), {"run_tests": {"projectId": "p"}}, CTX)
    assert KEY not in info.value.reason and KEY not in (info.value.response_excerpt or "")
