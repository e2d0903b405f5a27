"""Who may read the delivery log: loopback only without a token; the token (header or login cookie) with one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from receiver.web.auth import is_loopback_client, is_loopback_host
from tests.helpers import assert_no_secret
from tests.web.conftest import BASE_URL, SECRETS, WEB_TOKEN, Bench

PAGES = ["/api/stats", "/api/events", "/api/deliveries", "/ui", "/ui/deliveries?state=dead"]


def client_from(bench: Bench, host: str, base_url: str = BASE_URL) -> TestClient:
    """Another client of the same running app, seen as coming from ``host``."""
    return TestClient(bench.client.app, base_url=base_url, client=(host, 41000))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.mark.parametrize(
    ("client", "loopback"),
    [
        (("127.0.0.1", 1), True),
        (("127.20.30.40", 1), True),
        (("::1", 1), True),
        (("::ffff:127.0.0.1", 1), True),
        (("10.0.0.5", 1), False),
        (("192.168.1.20", 1), False),
        (("::ffff:10.0.0.5", 1), False),
        (("2001:db8::1", 1), False),
        (("testclient", 1), False),
        (None, False),  # a unix socket peer has no address
    ],
)
def test_loopback_client(client: tuple[str, int] | None, loopback: bool) -> None:
    assert is_loopback_client(client) is loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:8080", True),
        ("localhost:8080", True),
        ("localhost", True),
        ("[::1]:8080", True),
        ("evil.example:8080", False),  # a DNS-rebinding page names its own host
        ("127.0.0.1.nip.io", False),
        ("10.0.0.1", False),
        (None, True),  # no Host header: no browser, so no rebinding
    ],
)
def test_loopback_host(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(
    ("host", "status"),
    [("127.0.0.1", 200), ("::1", 200), ("10.1.2.3", 403), ("203.0.113.9", 403), ("testclient", 403)],
)
def test_without_token_only_loopback_clients(bench: Bench, path: str, host: str, status: int) -> None:
    with client_from(bench, host) as c:
        r = c.get(path)
    assert r.status_code == status
    if status == 403 and path.startswith("/api"):
        assert r.json()["code"] == "forbidden"
    elif status == 403:
        assert r.headers["content-type"].startswith("text/html")
        assert "loopback clients only" in r.text


@pytest.mark.parametrize("path", PAGES)
def test_without_token_a_foreign_host_header_is_refused(bench: Bench, path: str) -> None:
    with client_from(bench, "127.0.0.1", base_url="http://rebound.example:8080") as c:
        r = c.get(path)
    assert r.status_code == 403
    assert "Host header" in r.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Authorization": f"Bearer {WEB_TOKEN}x"}, 401),
        ({"Authorization": f"Basic {WEB_TOKEN}"}, 401),
        ({"Authorization": f"Bearer {WEB_TOKEN}"}, 200),
        ({"Authorization": f"bearer {WEB_TOKEN}"}, 200),
    ],
)
@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3"])
def test_with_token_api_wants_the_bearer_token(
    token_bench: Bench, headers: dict[str, str], status: int, host: str
) -> None:
    with client_from(token_bench, host, base_url="https://hooks.example.com") as c:
        r = c.get("/api/stats", headers=headers)
    assert r.status_code == status
    if status == 401:
        assert r.json() == {"error": "a valid token is required", "code": "unauthorized"}
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert_no_secret([r.text], SECRETS)


def test_with_token_ui_login_sets_a_cookie_that_is_not_the_token(token_bench: Bench) -> None:
    with client_from(token_bench, "10.1.2.3", base_url="https://hooks.example.com") as c:
        r = c.get("/ui/events/evt_x", follow_redirects=False)
        assert r.status_code == 401
        assert 'action="/ui/login"' in r.text
        assert 'name="next" value="/ui/events/evt_x"' in r.text
        login_csrf = csrf_of(r.text)

        # A wrong token, then a form without its CSRF field, then the right one.
        form = {"csrf": login_csrf, "token": "nope", "next": "/ui/deliveries"}
        r = c.post("/ui/login", data=form, follow_redirects=False)
        assert (r.status_code, "not right" in r.text, "set-cookie" in r.headers) == (401, True, False)
        r = c.post("/ui/login", data={"token": WEB_TOKEN}, follow_redirects=False)
        assert (r.status_code, r.text.count("csrf")) == (403, 1)
        r = c.post("/ui/login", data=form | {"token": WEB_TOKEN}, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/ui/deliveries")
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("hookyard_session=")
        for attribute in ("HttpOnly", "Path=/ui", "SameSite=strict", "Secure"):
            assert attribute in cookie
        assert_no_secret([cookie], SECRETS)

        page = c.get("/ui/deliveries")
        assert page.status_code == 200 and "Dead letters" in page.text
        # The login form's CSRF token does not work for the logged-in forms.
        assert csrf_of(page.text) != login_csrf
        # The cookie is for the page only: the API still wants the header.
        assert c.get("/api/stats").status_code == 401

        r = c.post("/ui/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/ui/login?done=logged_out")
        c.cookies.clear()
        assert c.get("/ui").status_code == 401


def test_with_token_ui_takes_the_header_too(token_bench: Bench) -> None:
    with client_from(token_bench, "10.1.2.3") as c:
        assert c.get("/ui", headers={"Authorization": f"Bearer {WEB_TOKEN}"}).status_code == 200
        assert c.get("/ui", headers={"Authorization": "Bearer wrong"}).status_code == 401
        c.cookies.set("hookyard_session", WEB_TOKEN)
        assert c.get("/ui").status_code == 401  # the raw token is not the cookie


def test_without_token_login_only_redirects(bench: Bench) -> None:
    r = bench.client.get("/ui/login", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/ui")


@pytest.mark.parametrize(
    ("path", "form", "origin", "status", "code"),
    [
        ("/ui/events/{event}/replay", {}, None, 403, "csrf"),
        ("/ui/events/{event}/replay", {"csrf": "0" * 64}, None, 403, "csrf"),
        ("/ui/events/{event}/replay", {"csrf": "{csrf}"}, "https://evil.example", 403, "cross_origin"),
        ("/ui/events/{event}/replay", {"csrf": "{csrf}"}, "null", 403, "cross_origin"),
        ("/ui/events/{event}/replay", {"csrf": "{csrf}"}, BASE_URL, 303, None),
        ("/ui/events/{event}/replay", {"csrf": "{csrf}"}, None, 303, None),
        ("/api/events/{event}/replay", {}, "https://evil.example", 403, "cross_origin"),
        ("/api/events/{event}/replay", {}, BASE_URL, 202, None),
        ("/api/events/{event}/replay", {}, None, 202, None),
    ],
)
def test_unsafe_requests_need_csrf_and_same_origin(
    bench: Bench, path: str, form: dict[str, str], origin: str | None, status: int, code: str | None
) -> None:
    event = bench.post_event("test.failed", "run-1")
    csrf = csrf_of(bench.get(f"/ui/events/{event}/replay").text)  # the confirmation step
    headers = {"Origin": origin} if origin else {}
    data = {k: v.format(csrf=csrf) for k, v in form.items()}
    r = bench.client.post(path.format(event=event), data=data, headers=headers, follow_redirects=False)
    assert r.status_code == status
    if code is not None:
        assert code in r.text
    replays = [d for d in bench.get(f"/api/events/{event}").json()["deliveries"] if d["replay_of"]]
    assert len(replays) == (1 if status < 400 else 0)


def test_pages_carry_security_headers(bench: Bench) -> None:
    r = bench.get("/ui")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert (r.headers["x-frame-options"], r.headers["x-content-type-options"]) == ("DENY", "nosniff")
    assert r.headers["cache-control"] == "no-store"


def test_the_stylesheet_is_public(token_bench: Bench, tmp_path: Path) -> None:
    r = token_bench.client.get("/ui/static/style.css")
    assert (r.status_code, r.headers["content-type"]) == (200, "text/css; charset=utf-8")
    assert ".badge" in r.text
    assert token_bench.client.get("/ui/static/../config.yaml").status_code == 404
    assert token_bench.client.get("/ui/static/nothing.css").status_code == 404


def test_no_secret_in_any_page_or_answer(token_bench: Bench) -> None:
    """Source secrets, sink credentials and the web token never show, whatever is asked."""
    failed = token_bench.post_event("test.failed", "run-s")
    completed = token_bench.post_event("test.completed", "run-t")
    auth = {"Authorization": f"Bearer {WEB_TOKEN}"}
    (dlv,) = [d["id"] for d in token_bench.get(f"/api/events/{failed}", headers=auth).json()["deliveries"]]
    token_bench.kill(dlv)
    paths = [
        "/api/events",
        "/api/events?q=run",
        f"/api/events/{failed}",
        f"/api/events/{completed}",
        "/api/deliveries",
        f"/api/deliveries/{dlv}",
        "/api/stats",
        "/ui",
        f"/ui/events/{failed}",
        f"/ui/events/{completed}",
        "/ui/deliveries",
        "/ui/deliveries?state=dead",
        "/ui/login",
        f"/ui/deliveries/{dlv}",
        f"/ui/events/{failed}/replay",
        "/ui?type=run.*&delivery=dead&sink=hook",
        "/api/openapi.json",
        "/metrics",
        "/readyz",
        "/ui/events/evt_nope",
    ]
    answers = [token_bench.get(p, headers=auth) for p in paths]
    assert [r.status_code for r in answers] == [200] * (len(paths) - 1) + [404]
    answers.append(token_bench.post(f"/api/deliveries/{dlv}/retry", headers=auth))
    answers.append(token_bench.post(f"/api/events/{failed}/replay", headers=auth))
    answers.append(token_bench.get("/ui", headers={"Authorization": "Bearer wrong"}))
    assert [r.status_code for r in answers[-3:]] == [200, 202, 401]
    texts = [r.text for r in answers] + [repr(dict(r.headers)) for r in answers]
    assert any("x-fusillade-signature" in t for t in texts)  # the stored headers were shown
    assert_no_secret(texts, SECRETS)
