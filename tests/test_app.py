"""The HTTP surface of ingress: responses, dedupe, rejections, limits — real SQLite."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from tests.helpers import FakeClock, assert_no_secret, stripe_header

NOW = 1735689600
FUS_SECRET = "whsec_fusillade_test"
OLD_SECRET = "whsec_previous_secret"
GH_SECRET = "It's a Secret to Everybody"
TOKEN = "tok-very-secret-value"

CONFIG = f"""
server: {{max_body_bytes: 2048}}
storage: {{url: "sqlite:///store/events.db"}}
rules: []
sources:
  - id: fusillade
    kind: fusillade
    secrets: ["{FUS_SECRET}", "{OLD_SECRET}"]
  - id: gh
    kind: github
    secrets: ["{GH_SECRET}"]
  - id: tok
    kind: generic
    verify: {{scheme: token, header: X-Token}}
    secrets: ["{TOKEN}"]
"""

BODY = json.dumps(
    {
        "event": "test.completed",
        "timestamp": "2026-02-06T12:00:00Z",
        "data": {"test_id": "550e8400", "name": "API Load Test", "status": "completed"},
    }
).encode()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    app = create_app(load_config(cfg), clock=FakeClock(NOW))
    with TestClient(app) as c:
        yield c


def fus(body: bytes = BODY, ts: int = NOW, secret: str = FUS_SECRET) -> dict[str, str]:
    return {"X-Fusillade-Signature": stripe_header(secret, body, ts), "Content-Type": "application/json"}


def gh(body: bytes, delivery: str) -> dict[str, str]:
    sig = "sha256=" + hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": sig, "X-GitHub-Event": "ping", "X-GitHub-Delivery": delivery}


def stored(client: TestClient) -> list[dict]:  # type: ignore[type-arg]
    import asyncio

    from receiver.store.base import EventQuery

    hy = client.app.state.hookyard  # type: ignore[attr-defined]
    rows = client.portal.call(hy.store.list_events, EventQuery(limit=1000))  # type: ignore[union-attr]
    del asyncio
    return [
        {
            "id": r.id,
            "source": r.source_id,
            "type": r.type,
            "body": r.body,
            "headers": r.headers,
            "normalize_error": r.normalize_error,
        }
        for r in rows
    ]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "signature_missing"),
        ({"X-Fusillade-Signature": "bad_header"}, "signature_malformed"),
        ({"X-Fusillade-Signature": f"t={NOW},v0=abcd"}, "signature_malformed"),
        ({"X-Fusillade-Signature": f"t={NOW},v1=" + "0" * 64}, "signature_mismatch"),
        (fus(secret="whsec_wrong"), "signature_mismatch"),
        (fus(ts=NOW - 301), "timestamp_stale"),
        (fus(ts=NOW + 301), "timestamp_future"),
        ({"X-Fusillade-Signature": "t=yesterday,v1=" + "0" * 64}, "timestamp_malformed"),
    ],
)
def test_rejections_are_401_with_distinct_codes_and_store_nothing(
    client: TestClient, headers: dict[str, str], code: str
) -> None:
    r = client.post("/hooks/fusillade", content=BODY, headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == code
    assert r.json()["error"]
    assert stored(client) == []
    assert client.app.state.hookyard.metrics.rejected_count("fusillade", code) == 1  # type: ignore[attr-defined]


def test_accepts_then_recognises_redeliveries(client: TestClient) -> None:
    first = client.post("/hooks/fusillade", content=BODY, headers=fus())
    assert first.status_code == 202
    assert first.json()["duplicate"] is False
    event_id = first.json()["event_id"]
    # The very same request again (same signature header).
    again = client.post("/hooks/fusillade", content=BODY, headers=fus())
    # Fusillade's own retry: same body, new timestamp and signature, within the window.
    retry = client.post("/hooks/fusillade", content=BODY, headers=fus(ts=NOW - 30))
    # Signed with the previous secret (rotation) — still the same body, still a duplicate.
    rotated = client.post("/hooks/fusillade", content=BODY, headers=fus(secret=OLD_SECRET, ts=NOW - 5))
    for r in (again, retry, rotated):
        assert (r.status_code, r.json()) == (200, {"event_id": event_id, "duplicate": True})
    rows = stored(client)
    assert [row["id"] for row in rows] == [event_id]
    assert rows[0]["body"] == BODY
    assert rows[0]["type"] == "run.completed"


def test_rotation_either_secret_is_accepted(client: TestClient) -> None:
    a = client.post("/hooks/fusillade", content=BODY, headers=fus(secret=OLD_SECRET))
    other = BODY.replace(b"550e8400", b"660e8400")
    b = client.post("/hooks/fusillade", content=other, headers=fus(other, secret=FUS_SECRET))
    assert (a.status_code, b.status_code) == (202, 202)
    assert len(stored(client)) == 2


def test_github_delivery_id_names_redeliveries(client: TestClient) -> None:
    a = client.post("/hooks/gh", content=b'{"zen": "a"}', headers=gh(b'{"zen": "a"}', "d-1"))
    b = client.post("/hooks/gh", content=b'{"zen": "a"}', headers=gh(b'{"zen": "a"}', "d-1"))
    # A different delivery with an identical body is a new event: the id decides, not the body.
    c = client.post("/hooks/gh", content=b'{"zen": "a"}', headers=gh(b'{"zen": "a"}', "d-2"))
    assert [a.status_code, b.status_code, c.status_code] == [202, 200, 202]
    assert b.json()["event_id"] == a.json()["event_id"]
    assert c.json()["event_id"] != a.json()["event_id"]


def test_verified_body_that_is_not_json_is_stored_as_unknown(client: TestClient) -> None:
    body = b"\x00\xffnot json at all"
    r = client.post("/hooks/fusillade", content=body, headers=fus(body))
    assert r.status_code == 202
    (row,) = stored(client)
    assert row["body"] == body
    assert row["type"] == "fusillade.unknown"
    assert row["normalize_error"]


def test_credentials_and_token_headers_are_not_stored(client: TestClient) -> None:
    r = client.post(
        "/hooks/tok",
        content=b"{}",
        headers={"X-Token": TOKEN, "Authorization": "Bearer abc123", "Cookie": "s=1", "X-Other": "kept"},
    )
    assert r.status_code == 202, r.text
    (row,) = stored(client)
    assert row["headers"]["x-other"] == "kept"
    for name in ("x-token", "authorization", "cookie"):
        assert name not in row["headers"]
    assert_no_secret([json.dumps(row["headers"])], [TOKEN, "abc123"])


def test_credential_headers_by_any_name_are_not_stored_but_the_signature_is(client: TestClient) -> None:
    extra = {"X-Api-Key": "k3y-value", "X-Session-Id": "sess-value", "Proxy-Authorization": "Basic cHJveHk="}
    r = client.post("/hooks/fusillade", content=BODY, headers={**fus(), **extra})
    assert r.status_code == 202, r.text
    (row,) = stored(client)
    assert {"x-api-key", "x-session-id", "proxy-authorization"}.isdisjoint(row["headers"])
    assert "x-fusillade-signature" in row["headers"]  # a MAC of this body: kept for checking by hand
    assert_no_secret([json.dumps(row["headers"])], list(extra.values()))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "/hooks/nope", {"content": b"{}"}, 404, "unknown_source"),
        ("GET", "/hooks/fusillade", {}, 405, "method_not_allowed"),
        ("PUT", "/hooks/fusillade", {"content": b"{}"}, 405, "method_not_allowed"),
        ("GET", "/nothing-here", {}, 404, "not_found"),
        # Paths the webhook fast path must leave to the router: not one path segment.
        ("POST", "/hooks/", {"content": b"{}"}, 404, "not_found"),
        ("POST", "/hooks/fusillade/extra", {"content": b"{}"}, 404, "not_found"),
        ("POST", "/hooksfusillade", {"content": b"{}"}, 404, "not_found"),
        ("POST", "/hooks/fusillade", {"content": b"x" * 2049}, 413, "body_too_large"),
        (
            "POST",
            "/hooks/fusillade",
            {"content": b"{}", "headers": {"Content-Length": "abc"}},
            400,
            "bad_content_length",
        ),
    ],
)
def test_http_errors_are_json(
    client: TestClient,
    method: str,
    path: str,
    kwargs: dict,
    status: int,
    code: str,  # type: ignore[type-arg]
) -> None:
    r = client.request(method, path, **kwargs)
    assert r.status_code == status
    assert r.json()["code"] == code
    assert isinstance(r.json()["error"], str)


def test_chunked_body_over_the_limit_is_refused_without_reading_on(client: TestClient) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"y" * 1024

    r = client.post("/hooks/fusillade", content=chunks())
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"
    assert stored(client) == []


def test_a_client_gone_mid_body_gets_no_answer_and_nothing_is_stored(client: TestClient) -> None:
    app = client.app
    sent: list[dict] = []  # type: ignore[type-arg]
    messages = iter([{"type": "http.request", "body": BODY[:10], "more_body": True}, {"type": "http.disconnect"}])

    async def receive() -> dict:  # type: ignore[type-arg]
        return next(messages)

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/hooks/fusillade",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            *[(k.lower().encode(), v.encode()) for k, v in fus().items()],
        ],
    }
    client.portal.call(app, scope, receive, send)  # type: ignore[arg-type, union-attr]
    assert sent == []
    assert stored(client) == []


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["store"]["status"] == "ok"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=3000),
    sig=st.one_of(st.none(), st.text(max_size=200)),
    source=st.sampled_from(["fusillade", "gh", "tok", "zzz"]),
)
def test_nothing_a_client_sends_is_a_500(client: TestClient, body: bytes, sig: str | None, source: str) -> None:
    headers = {}
    if sig is not None:
        clean = "".join(ch for ch in sig if 32 <= ord(ch) < 127)
        headers = {"X-Fusillade-Signature": clean, "X-Hub-Signature-256": clean, "X-Token": clean}
    r = client.post(f"/hooks/{source}", content=body, headers=headers)
    assert r.status_code in (401, 404, 413), r.text
    assert set(r.json()) == {"error", "code"}
