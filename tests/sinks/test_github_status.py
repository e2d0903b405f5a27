from __future__ import annotations

import re
from typing import Any

import pytest

from receiver.errors import DeliveryError
from receiver.sinks import SINKS
from receiver.sinks.base import OrderedSink, SendContext
from receiver.sinks.client import HttpClient
from receiver.sinks.github_status import GitHubStatusSink
from tests.servers import Received, RecordingServer, Reply
from tests.sinks.actions import action, send

pytestmark = pytest.mark.anyio

TOKEN = "ghp_0123456789abcdefSECRET"
SHA = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
EVENT = {"id": "evt_1", "data": {"git": {"repo": "acme/shop", "sha": SHA}}}
CTX = SendContext("dlv_1", 1, EVENT)
_PATH = re.compile(r"^/api/v3/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})$")


def fake_github(got: Received) -> Reply:
    """A strict stand-in for the statuses endpoint: auth, headers, path and the 140-char rule."""
    if got.headers.get("authorization") != f"Bearer {TOKEN}":
        return Reply(401, {"message": "Bad credentials"})
    if not got.headers.get("user-agent", "").startswith("hookyard/"):
        return Reply(403, {"message": "UA required"})
    if (
        got.headers.get("accept") != "application/vnd.github+json"
        or got.headers.get("x-github-api-version") != "2022-11-28"
    ):
        return Reply(400, {"message": "bad headers"})
    if got.method != "POST" or not _PATH.match(got.path):
        return Reply(404, {"message": "Not Found"})
    body = got.json
    if body.get("state") not in ("pending", "success", "failure", "error"):
        return Reply(422, {"message": "Validation Failed"})
    if len(body.get("description") or "") > 140:
        return Reply(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"field": "description", "message": "description is too long (maximum is 140 characters)"}],
            },
        )
    return Reply(201, {"id": 1, "state": body["state"], "context": body.get("context")})


@pytest.fixture
def github() -> Any:
    with RecordingServer(responder=fake_github) as srv:
        yield srv


def make(client: HttpClient, api_url: str, token: str = TOKEN, **extra: Any) -> Any:
    spec = SINKS["github_status"]
    config = spec.config.model_validate({"token": token, "api_url": api_url, "allow_private": True, **extra})
    return spec.create("gh", config, client)


async def test_posts_status_for_the_event_commit(github: RecordingServer, client: HttpClient) -> None:
    sink = make(client, f"{github.url}/api/v3/")
    result = await send(
        sink,
        {"state": "success", "description": "load test passed", "target_url": "https://ci.example/1"}, CTX
    )
    assert result.status == 201 and result.body["state"] == "success"
    got = github.received[0]
    assert got.path == f"/api/v3/repos/acme/shop/statuses/{SHA}"
    assert got.json == {
        "state": "success",
        "context": "hookyard",
        "description": "load test passed",
        "target_url": "https://ci.example/1",
    }


async def test_long_description_is_cut_to_140_characters(github: RecordingServer, client: HttpClient) -> None:
    sink = make(client, f"{github.url}/api/v3")
    result = await send(sink, {"state": "failure", "description": "p95 regressed " * 30, "context": "perf"}, CTX)
    assert result.status == 201
    sent = github.received[0].json
    assert len(sent["description"]) == 140 and sent["description"].endswith("…")
    assert sent["context"] == "perf"


async def test_action_repo_and_sha_override_the_event(github: RecordingServer, client: HttpClient) -> None:
    other = "a" * 40
    await send(make(client, f"{github.url}/api/v3"), {"state": "pending", "repo": "o/r", "sha": other}, CTX)
    assert github.received[0].path == f"/api/v3/repos/o/r/statuses/{other}"


@pytest.mark.parametrize(
    ("token", "path_prefix", "status", "retryable"),
    [
        ("ghp_wrong_token_value", "/api/v3", 401, False),
        (TOKEN, "/elsewhere", 404, False),
    ],
)
async def test_auth_and_path_failures_are_permanent(
    github: RecordingServer,
    client: HttpClient,
    token: str,
    path_prefix: str,
    status: int,
    retryable: bool,
) -> None:
    sink = make(client, f"{github.url}{path_prefix}", token=token)
    with pytest.raises(DeliveryError) as info:
        await send(sink, {"state": "success"}, CTX)
    assert (info.value.status, info.value.retryable) == (status, retryable)
    assert token not in info.value.reason and token not in (info.value.response_excerpt or "")


@pytest.mark.parametrize(
    ("reply", "retry_after"),
    [
        (Reply(500, {"message": "Server Error"}), None),
        (Reply(502, "bad gateway"), None),
        (Reply(429, {"message": "slow"}, {"Retry-After": "30"}), 30.0),
        (Reply(403, {"message": "You have exceeded a secondary rate limit"}), 60.0),
        (Reply(403, {"message": "x"}, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}), 1.0),
    ],
)
async def test_server_errors_and_rate_limits_are_retryable(
    server: RecordingServer, client: HttpClient, reply: Reply, retry_after: float | None
) -> None:
    server.script(reply)
    with pytest.raises(DeliveryError) as info:
        await send(make(client, server.url), {"state": "success"}, CTX)
    assert info.value.retryable
    assert info.value.retry_after == retry_after


async def test_plain_403_is_permanent(server: RecordingServer, client: HttpClient) -> None:
    server.script(Reply(403, {"message": "Resource not accessible by integration"}))
    with pytest.raises(DeliveryError) as info:
        await send(make(client, server.url), {"state": "success"}, CTX)
    assert not info.value.retryable


async def test_timeout_is_retryable(server: RecordingServer, client: HttpClient) -> None:
    server.script(Reply(201, {}, delay=1.0))
    sink = make(client, server.url, timeout_seconds=0.2)
    with pytest.raises(DeliveryError) as info:
        await send(sink, {"state": "success"}, CTX)
    assert info.value.retryable


@pytest.mark.parametrize(
    ("event", "params", "why"),
    [
        ({"data": {}}, {"state": "success"}, "no commit"),
        ({"data": {"git": {"repo": "acme/shop"}}}, {"state": "success"}, "no commit"),
        ({}, {"state": "success", "repo": "acme/shop"}, "no commit"),
        (EVENT, {"state": "success", "repo": "../../admin"}, "owner/name"),
        (EVENT, {"state": "success", "sha": "main/../x"}, "hex"),
        (EVENT, {"state": "done"}, "state"),
    ],
)
async def test_nothing_to_report_on_is_permanent_and_sends_nothing(
    server: RecordingServer,
    client: HttpClient,
    event: dict[str, Any],
    params: dict[str, Any],
    why: str,
) -> None:
    with pytest.raises(DeliveryError, match=why) as info:
        await send(make(client, server.url), params, SendContext("d", 1, event))
    assert not info.value.retryable
    assert server.received == []


async def test_ordering_key_and_privacy(client: HttpClient) -> None:
    sink = make(client, "https://github.example.com/api/v3")
    assert isinstance(sink, OrderedSink) and isinstance(sink, GitHubStatusSink)
    assert sink.ordering_key(action(sink, {"state": "pending", "context": "Perf"}), CTX) == ("acme/shop", SHA, "perf")
    success = action(sink, {"state": "success", "sha": SHA.upper()})
    assert sink.ordering_key(success, CTX) == ("acme/shop", SHA, "hookyard")
    for text in (repr(sink), sink.describe(), str(vars(sink))):
        assert TOKEN not in text


async def test_refuses_private_api_url_unless_allowed(github: RecordingServer, client: HttpClient) -> None:
    with pytest.raises(DeliveryError, match="loopback"):
        await send(make(client, f"{github.url}/api/v3", allow_private=False), {"state": "success"}, CTX)
    assert github.received == []


REPOS = [
    # (repo, accepted?) — GitHub's owner and name rules; nothing that could leave /repos/{o}/{r}
    ("acme/shop", True),
    ("Acme-Corp/shop.web_v2", True),
    ("a/.github", True),
    ("a/..x", True),
    ("o" * 39 + "/r", True),
    ("acme/..", False),
    ("acme/.", False),
    ("../shop", False),
    ("./shop", False),
    ("acme/shop/../../admin", False),
    ("acme/shop/statuses", False),
    ("acme", False),
    ("/shop", False),
    ("acme/", False),
    ("-acme/shop", False),
    ("acme-/shop", False),
    ("ac--me/shop", False),
    ("o" * 40 + "/r", False),
    ("acme/" + "r" * 101, False),
    ("acme/sh op", False),
    ("acme/shop%2F..", False),
    ("acme/shop?x=1", False),
    ("acme/shop#x", False),
    ("ac.me/shop", False),
]


@pytest.mark.parametrize(("repo", "accepted"), REPOS, ids=[r for r, _ in REPOS])
async def test_repo_must_be_owner_slash_name(
    github: RecordingServer, client: HttpClient, repo: str, accepted: bool
) -> None:
    sink = make(client, f"{github.url}/api/v3")
    params = {"state": "success", "repo": repo}
    if accepted:
        await send(sink, params, CTX)
        assert github.received[0].path == f"/api/v3/repos/{repo}/statuses/{SHA}"
        return
    with pytest.raises(DeliveryError, match="is not owner/name") as info:
        await send(sink, params, CTX)
    assert not info.value.retryable
    assert github.received == []
