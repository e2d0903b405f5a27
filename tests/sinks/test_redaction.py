"""Credentials never reach a reason, a description or a log line (issue #10, item 10).

Sinks are built from a real config file loaded with ``${VAR}`` expansion, as the daemon
builds them, and send to real local servers (or a closed port, for transport errors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receiver.config import load_config
from receiver.errors import ConfigError, DeliveryError
from receiver.sinks import SINKS
from receiver.sinks.base import REDACTED, Redactor
from receiver.sinks.client import HttpClient
from tests.helpers import assert_no_secret, free_port
from tests.servers import RecordingServer, Reply
from tests.sinks.actions import send

pytestmark = pytest.mark.anyio

PATH_TOKEN = "whk_path_token_4f2a9c1e"  # the credential of a generic webhook URL is its path
PASSWORD = "pw-in-base-url-77c1"
QUERY_KEY = "qk_0a9b8c7d6e5f"
HEADER_TOKEN = "hdr_token_55e6f7a8"
SECRETS = [PATH_TOKEN, PASSWORD, QUERY_KEY, HEADER_TOKEN]


def load(tmp_path: Path, sinks: str, env: dict[str, str]) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage: {{url: 'sqlite:///h.db'}}\nsinks:\n{sinks}")
    return load_config(path, env=env)


def build(config: Any, sink_id: str, client: HttpClient) -> Any:
    sink = config.sinks[sink_id]
    return SINKS[sink.kind].create(sink_id, sink.options, client)


def http_sink(tmp_path: Path, base_url: str, headers: str = "") -> Any:
    text = f"  - id: hook\n    kind: http\n    allow_private: true\n    base_url: '${{HOOK_URL}}'\n{headers}"
    return load(tmp_path, text, {"HOOK_URL": base_url, "HDR": HEADER_TOKEN})


@pytest.mark.parametrize(
    "base_url",
    [
        f"http://127.0.0.1:{{port}}/hooks/{PATH_TOKEN}",
        f"http://hookyard:{PASSWORD}@127.0.0.1:{{port}}/hooks",
        f"http://127.0.0.1:{{port}}/hooks?key={QUERY_KEY}&channel=ci",
        f"http://127.0.0.1:{{port}}/hooks?k={QUERY_KEY}",  # a parameter name that says nothing
    ],
)
async def test_urls_from_the_environment_are_redacted_in_reasons_and_descriptions(
    tmp_path: Path, client: HttpClient, base_url: str
) -> None:
    config = http_sink(tmp_path, base_url.format(port=free_port()))  # nothing listens there
    sink = build(config, "hook", client)
    with pytest.raises(DeliveryError) as info:
        await send(sink, {"request": {"path": "/run/t-1"}}, _ctx())
    assert info.value.retryable
    texts = [info.value.reason, str(info.value), sink.describe(), repr(sink), repr(config)]
    assert_no_secret(texts, SECRETS)
    assert "127.0.0.1" in info.value.reason and "/run/t-1" in info.value.reason  # still says where
    assert REDACTED in info.value.reason


async def test_echoed_url_is_redacted_in_the_reason_and_excerpt(tmp_path: Path, client: HttpClient) -> None:
    with RecordingServer() as server:
        secret_url = f"{server.url}/hooks/{PATH_TOKEN}"
        server.script(Reply(404, f"no hook at {secret_url} (token {PATH_TOKEN})"))
        sink = build(http_sink(tmp_path, secret_url), "hook", client)
        with pytest.raises(DeliveryError) as info:
            await send(sink, {"request": {"path": "/x"}}, _ctx())
        assert server.received[0].path == f"/hooks/{PATH_TOKEN}/x"
    assert_no_secret([info.value.reason, info.value.response_excerpt or ""], SECRETS)


async def test_url_credentials_become_a_basic_header_and_never_leave_in_the_url(
    tmp_path: Path, client: HttpClient
) -> None:
    with RecordingServer() as server:
        sink = build(http_sink(tmp_path, f"http://hookyard:{PASSWORD}@127.0.0.1:{server.port}/api"), "hook", client)
        await send(sink, {"request": {"path": "/x"}}, _ctx())
        (got,) = server.received
    assert got.path == "/api/x"
    assert got.headers["authorization"] == "Basic " + _b64(f"hookyard:{PASSWORD}")


def test_url_credentials_and_an_authorization_header_are_a_located_config_error(tmp_path: Path) -> None:
    headers = "    headers:\n      Authorization: 'Bearer ${HDR}'\n"
    with pytest.raises(ConfigError) as info:
        http_sink(tmp_path, f"https://hookyard:{PASSWORD}@api.example.com/v1", headers)
    (problem,) = info.value.problems
    assert str(problem).endswith(
        "config.yaml:6: sinks[0].base_url: has credentials (user:password@) and headers has an Authorization header;"
        " keep one"
    )
    assert_no_secret([str(info.value)], SECRETS)


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        (f"kind: fusillade\n    api_key: k\n    base_url: 'https://u:{PASSWORD}@api.example.com'", "base_url"),
        (f"kind: github_status\n    token: t\n    api_url: 'https://u:{PASSWORD}@gh.example.com'", "api_url"),
    ],
)
def test_presets_and_github_refuse_credentials_in_their_url(tmp_path: Path, entry: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"  - id: s\n    {entry}\n", {})
    (problem,) = info.value.problems
    assert problem.line == 6 and problem.path == f"sinks[0].{where}"
    assert "must not hold credentials" in problem.message
    assert_no_secret([str(info.value)], SECRETS)


async def test_action_url_with_credentials_and_a_header_is_refused_not_a_value_error(
    tmp_path: Path, client: HttpClient
) -> None:
    with RecordingServer() as server:
        text = "  - id: hook\n    kind: http\n    allow_private: true\n    headers: {Authorization: 'Bearer ${HDR}'}\n"
        sink = build(load(tmp_path, text, {"HDR": HEADER_TOKEN}), "hook", client)
        url = f"http://u:{PASSWORD}@127.0.0.1:{server.port}/x"
        with pytest.raises(DeliveryError) as info:
            await send(sink, {"request": {"url": url}}, _ctx())
        assert server.received == []
    assert not info.value.retryable
    assert "has credentials and the request an Authorization header" in info.value.reason
    assert_no_secret([info.value.reason], SECRETS)


async def test_apprise_urls_from_the_environment_are_redacted(tmp_path: Path, client: HttpClient) -> None:
    with RecordingServer(default=Reply(500, "down")) as server:
        text = "  - id: chat\n    kind: apprise\n    urls: ['${NOTIFY_URL}']\n"
        url = f"json://bot:{PASSWORD}@127.0.0.1:{server.port}/hooks/{PATH_TOKEN}"
        sink = build(load(tmp_path, text, {"NOTIFY_URL": url}), "chat", client)
        with pytest.raises(DeliveryError) as info:
            await send(sink, {"title": "t", "body": "b"}, _ctx())
        assert server.received[0].path == f"/hooks/{PATH_TOKEN}"
    assert_no_secret([info.value.reason, sink.describe(), repr(sink)], SECRETS)
    assert "127.0.0.1" in sink.describe()


REDACTOR_CASES = [
    # (secrets, url shown, expected)
    ([f"https://h.example/hooks/{PATH_TOKEN}"], f"https://h.example/hooks/{PATH_TOKEN}/x", f"https://h.example/{REDACTED}/{REDACTED}/x"),
    ([PATH_TOKEN], f"https://h.example/hooks/{PATH_TOKEN}?a=1", f"https://h.example/hooks/{REDACTED}?a=1"),
    ([PATH_TOKEN], f"https://h.example/hooks/v1-{PATH_TOKEN}", f"https://h.example/hooks/{REDACTED}"),
    ([QUERY_KEY], f"https://h.example/p?k={QUERY_KEY}&page=2", f"https://h.example/p?k={REDACTED}&page=2"),
    ([PASSWORD], f"https://{PASSWORD}@h.example/p", f"https://{REDACTED}@h.example/p"),
    (["hookyard-user"], f"https://hookyard-user:{PASSWORD}@h.example/p", f"https://{REDACTED}:{REDACTED}@h.example/p"),
    ([], "https://h.example/p?page=2", "https://h.example/p?page=2"),
]


@pytest.mark.parametrize(("secrets", "url", "expected"), REDACTOR_CASES)
def test_redactor_url(secrets: list[str], url: str, expected: str) -> None:
    assert Redactor(secrets).url(url) == expected


def _ctx() -> Any:
    from receiver.sinks.base import SendContext

    return SendContext("dlv_r1", 1, {"id": "evt_1", "data": {}})


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


async def test_sink_query_parameters_are_sent_and_kept_secret(tmp_path: Path, client: HttpClient) -> None:
    with RecordingServer(default=Reply(401, f"bad key {QUERY_KEY}")) as server:
        text = (
            f"  - id: api\n    kind: http\n    base_url: {server.url}\n    allow_private: true\n"
            "    query: {api_key: '${KEY}'}\n"
        )
        sink = build(load(tmp_path, text, {"KEY": QUERY_KEY}), "api", client)
        with pytest.raises(DeliveryError) as info:
            await send(sink, {"request": {"path": "/x", "query": {"page": "2", "api_key": "from-rule"}}}, _ctx())
        (got,) = server.received
    assert got.query == {"page": "2", "api_key": QUERY_KEY}  # the sink's value wins, like its headers
    assert "api_key" in sink.describe()
    assert_no_secret([info.value.reason, info.value.response_excerpt or "", sink.describe(), repr(sink)], SECRETS)
