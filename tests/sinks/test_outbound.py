"""Templated URLs cannot be turned into calls to other endpoints (issue #10, item 8).

Rules are loaded with the real sink models, rendered as the router renders them, and sent
by the real sinks to a local server that records the path exactly as it arrived.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.errors import DeliveryError
from receiver.rules import load_rules, render_action
from receiver.sinks import SINKS
from receiver.sinks.base import SendContext
from receiver.sinks.client import HttpClient
from receiver.sinks.outbound import climbs, join, segment
from tests.servers import RecordingServer
from tests.sinks.actions import send

pytestmark = pytest.mark.anyio

KEY = "fus_live_key_0123456789"


def render(action: dict[str, Any], event: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    """The action rendered for ``event`` exactly as the router would, with the real models."""
    models = {"fusillade-api": SINKS["fusillade"].action, "api": SINKS["http"].action}
    text = yaml.safe_dump({"vars": variables or {}, "rules": [{"name": "r", "actions": [action]}]})
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "r.yaml").write_text(text, encoding="utf-8")
        [planned] = load_rules([tmp], models).plan(event)
    return render_action(planned, event)


def fusillade(client: HttpClient, base_url: str) -> Any:
    spec = SINKS["fusillade"]
    config = spec.config.model_validate({"api_key": KEY, "base_url": base_url, "allow_private": True})
    return spec.create("fusillade-api", config, client)


def event(subject: str) -> dict[str, Any]:
    return {"id": "evt_1", "type": "run.completed", "subject": subject, "data": {"run": {"name": "API"}}}


# The flagship compare call (rules/10-load-test-regression-gate.yaml) with a hostile subject.
COMPARE = {
    "sink": "fusillade-api",
    "request": {"method": "GET", "path": "/api/v1/tests/{{ event.subject }}/compare/{{ vars.baseline }}"},
}

TRAVERSAL = [
    # (subject, the path the server must see: the value stays inside its one segment)
    ("../../admin/keys", "/api/v1/tests/..%2F..%2Fadmin%2Fkeys/compare/b-9"),
    ("%2e%2e", "/api/v1/tests/%252e%252e/compare/b-9"),
    ("%2e%2e%2fadmin", "/api/v1/tests/%252e%252e%252fadmin/compare/b-9"),
    ("a/b", "/api/v1/tests/a%2Fb/compare/b-9"),
    # ``=`` and ``&`` mean nothing in a path: clients may send them unencoded there
    ("t?admin=1", "/api/v1/tests/t%3Fadmin=1/compare/b-9"),
    ("t#frag", "/api/v1/tests/t%23frag/compare/b-9"),
    ("t 1&x=y", "/api/v1/tests/t%201&x=y/compare/b-9"),
    ("...", "/api/v1/tests/.../compare/b-9"),
    ("t-1.v2", "/api/v1/tests/t-1.v2/compare/b-9"),
    ("тест", "/api/v1/tests/%D1%82%D0%B5%D1%81%D1%82/compare/b-9"),
]


@pytest.mark.parametrize(("subject", "path"), TRAVERSAL, ids=[s for s, _ in TRAVERSAL])
async def test_a_value_in_a_path_template_stays_one_segment(
    server: RecordingServer, client: HttpClient, subject: str, path: str
) -> None:
    params = render(COMPARE, event(subject), {"baseline": "b-9"})
    await send(fusillade(client, server.url), params, SendContext("dlv_1", 1, event(subject)))
    (got,) = server.received
    assert got.path == path
    assert got.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("subject", ["..", ".", "%2E%2E"])
async def test_a_path_that_would_climb_is_refused_and_nothing_is_sent(
    server: RecordingServer, client: HttpClient, subject: str
) -> None:
    """``..`` encoded as ``%2E%2E`` is still resolved by the client before sending; a value that
    is only dots is therefore refused outright (``%2E%2E`` as a value is encoded again, so sent)."""
    params = render(COMPARE, event(subject), {"baseline": "b-9"})
    sink = fusillade(client, server.url)
    if subject == "%2E%2E":
        await send(sink, params, SendContext("dlv_1", 1, event(subject)))
        assert [r.path for r in server.received] == ["/api/v1/tests/%252E%252E/compare/b-9"]
        return
    with pytest.raises(DeliveryError) as info:
        await send(sink, params, SendContext("dlv_1", 1, event(subject)))
    assert not info.value.retryable
    assert "its path has a '.' or '..' segment" in info.value.reason
    assert server.received == []


@pytest.mark.parametrize(
    "params",
    [
        {"request": {"method": "GET", "path": "/api/v1/../admin/keys"}},  # the author's own text
        {"request": {"method": "GET", "path": "/api/v1/%2e%2e/admin/keys"}},
        {"get_test": {"test_id": ".."}},  # a shortcut's field
        {"compare": {"test_id": "t-1", "baseline_id": "."}},
    ],
)
async def test_dot_segments_are_refused_however_they_got_there(
    server: RecordingServer, client: HttpClient, params: dict[str, Any]
) -> None:
    with pytest.raises(DeliveryError) as info:
        await send(fusillade(client, server.url), params, SendContext("dlv_1", 1, event("t")))
    assert not info.value.retryable
    assert server.received == []


async def test_query_values_are_encoded_as_one_value(server: RecordingServer, client: HttpClient) -> None:
    action = {
        "sink": "fusillade-api",
        "request": {
            "method": "GET",
            "path": "/api/v1/tests?name={{ event.subject }}&limit=5",
            "query": {"subject": "{{ event.subject }}"},
        },
    }
    hostile = "a&limit=1000#x/../y?z"
    params = render(action, event(hostile))
    await send(fusillade(client, server.url), params, SendContext("dlv_1", 1, event(hostile)))
    (got,) = server.received
    assert got.path == "/api/v1/tests"
    assert got.query == {"name": hostile, "limit": "5", "subject": hostile}


def test_literal_template_text_is_kept_as_written() -> None:
    action = {"sink": "api", "request": {"path": "/v1/{{ event.subject }}/x?y=1&z={{ event.id }}"}}
    assert render(action, event("s/1&y=2"))["request"]["path"] == "/v1/s%2F1%26y%3D2/x?y=1&z=evt_1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("t-1", "t-1"), ("a/b", "a%2Fb"), ("..", "%2E%2E"), (".", "%2E"), ("a.b", "a.b"), ("100%", "100%25"), (7, "7")],
)
def test_segment(value: object, expected: str) -> None:
    assert segment(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/a/b", False),
        ("https://h/a/../b", True),
        ("https://h/a/./b", True),
        ("https://h/a/%2E%2E/b", True),
        ("https://h/a/%2e/b", True),
        ("https://h/a/..%2Fb", False),
        ("https://h/a/...", False),
        ("https://h/a?x=/../", False),
        ("https://h/..", True),
    ],
)
def test_climbs(url: str, expected: bool) -> None:
    assert climbs(url) is expected


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("https://h/api/", "/v1/x", "https://h/api/v1/x"),
        ("https://h/api", "v1/x", "https://h/api/v1/x"),
        ("https://h/hook?key=k1", "/run/t-1", "https://h/hook/run/t-1?key=k1"),
        ("https://h/hook?key=k1", "/run?page=2", "https://h/hook/run?key=k1&page=2"),
        ("https://h", "//evil.example/x", "https://h/evil.example/x"),
    ],
)
def test_join_keeps_the_base_query_after_the_path(base: str, path: str, expected: str) -> None:
    assert join(base, path) == expected


async def test_a_header_value_with_a_newline_is_a_permanent_failure_not_a_crash(
    server: RecordingServer, client: HttpClient
) -> None:
    action = {"sink": "api", "request": {"path": "/x", "headers": {"X-Run": "{{ event.subject }}"}}}
    hostile = "t-1\r\nX-Injected: yes"
    params = render(action, event(hostile))
    spec = SINKS["http"]
    sink = spec.create("api", spec.config.model_validate({"base_url": server.url, "allow_private": True}), client)
    with pytest.raises(DeliveryError) as info:
        await send(sink, params, SendContext("dlv_1", 1, event(hostile)))
    assert not info.value.retryable and "cannot be sent" in info.value.reason
    assert server.received == []
