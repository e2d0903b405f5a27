"""The web token's sessions, throttle, form keys and the other guarded endpoints.

Sessions and form keys live in the store, so two apps on one database file stand in
for the processes of ``server.processes: N`` (same code path, no process juggling).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from receiver.config import load_config
from receiver.errors import ConfigError
from receiver.web.auth import SESSION_SECONDS
from tests.helpers import Daemon, FakeClock, assert_no_secret, fusillade_body
from tests.web.conftest import (
    BASE_URL,
    ENV,
    SECRETS,
    WEB_TOKEN,
    Bench,
    open_bench,
    signed,
    write_config,
)
from tests.web.test_auth import client_from, csrf_of

AUTH = {"Authorization": f"Bearer {WEB_TOKEN}"}
HTTPS = "https://hooks.example.com"


def login(c: TestClient | httpx.Client) -> str:
    """Log in through the form; returns the session cookie's value."""
    page = c.get("/ui/login")
    r = c.post("/ui/login", data={"csrf": csrf_of(page.text), "token": WEB_TOKEN}, follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.match(r"hookyard_session=([^;]+);", r.headers["set-cookie"])
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("x" * 31, "web.token: must be at least 32 characters"),
        ("0123456789abcdef0123456789abcde", "web.token: must be at least 32 characters"),
        ("x" * 32, None),
        ("", None),  # ${HOOKYARD_WEB_TOKEN:-}: no token, loopback only
    ],
)
def test_a_short_token_is_refused_at_load(tmp_path: Path, token: str, problem: str | None) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"web:\n  enabled: true\n  token: '{token}'\n")
    if problem is None:
        config = load_config(path)
        assert (config.web_token is not None) is bool(token)
        return
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:3: {problem} (try: openssl rand -hex 32)"
    assert token not in str(err.value)


def test_sessions_are_random_expire_and_end_on_logout(tmp_path: Path, secret_env: None) -> None:
    clock = FakeClock(time.time())
    with open_bench(tmp_path, token=True, clock=clock) as bench:
        a, b = client_from(bench, "10.1.2.3", base_url=HTTPS), client_from(bench, "10.1.2.4", base_url=HTTPS)
        with a, b:
            first, second = login(a), login(b)
            assert first != second and len(first) >= 40
            assert_no_secret([first, second], SECRETS)
            assert a.get("/ui").status_code == 200
            # Logging out ends the session on the server: its cookie, kept by someone, is dead.
            r = a.post("/ui/logout", data={"csrf": csrf_of(a.get("/ui").text)}, follow_redirects=False)
            assert r.status_code == 303
            a.cookies.set("hookyard_session", first, path="/ui")
            assert a.get("/ui").status_code == 401
            assert b.get("/ui").status_code == 200  # other sessions go on
            clock.now += SESSION_SECONDS - 1
            assert b.get("/ui").status_code == 200
            clock.now += 1
            assert b.get("/ui").status_code == 401  # expired


def test_sessions_and_forms_hold_in_every_process(tmp_path: Path, secret_env: None) -> None:
    """Two apps on one store: a session and a form made by one are good in the other."""
    with open_bench(tmp_path, token=True) as one, open_bench(tmp_path, token=True) as two:
        event = one.post_event("test.failed", "run-p")
        c1 = client_from(one, "10.1.2.3", base_url=HTTPS)
        c2 = client_from(two, "10.1.2.3", base_url=HTTPS)
        with c1, c2:
            session = login(c1)
            c2.cookies.set("hookyard_session", session, path="/ui")
            page = c1.get(f"/ui/events/{event}")
            for _ in range(5):  # like several Replay clicks, each served by either process
                for c in (c1, c2):
                    r = c.post(f"/ui/events/{event}/replay", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
                    assert r.status_code == 303, r.text
            r = c2.post("/ui/logout", data={"csrf": csrf_of(c2.get("/ui").text)}, follow_redirects=False)
            assert r.status_code == 303
            assert c1.get("/ui").status_code == 401  # logged out in the other process too
            r = c1.post(f"/ui/events/{event}/replay", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
            assert r.status_code == 401


def test_without_token_forms_hold_in_every_process(tmp_path: Path, secret_env: None) -> None:
    with open_bench(tmp_path) as one, open_bench(tmp_path) as two:
        event = one.post_event("test.failed", "run-q")
        csrf = csrf_of(one.get(f"/ui/events/{event}/replay").text)
        r = two.client.post(f"/ui/events/{event}/replay", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303, r.text


@pytest.mark.parametrize(
    ("path", "method"),
    [("/api/stats", "GET"), ("/ui", "GET"), ("/metrics", "GET"), ("/ui/login", "POST")],
)
def test_wrong_tokens_are_throttled_per_client(tmp_path: Path, secret_env: None, path: str, method: str) -> None:
    clock = FakeClock(time.time())
    with open_bench(tmp_path, token=True, clock=clock) as bench:
        guesser = client_from(bench, "10.9.9.9", base_url=HTTPS)
        other = client_from(bench, "10.1.1.1", base_url=HTTPS)

        def attempt(c: TestClient, token: str) -> httpx.Response:
            if method == "GET":
                return c.get(path, headers={"Authorization": f"Bearer {token}"})
            csrf = csrf_of(c.get("/ui/login").text)
            return c.post(path, data={"csrf": csrf, "token": token}, follow_redirects=False)

        with guesser, other:
            answers = [attempt(guesser, f"guess-{i}").status_code for i in range(10)]
            assert answers == [401] * 10
            refused = attempt(guesser, WEB_TOKEN)  # even the right one: the answer would tell
            assert (refused.status_code, refused.headers["retry-after"]) == (429, "6")
            if path.startswith(("/api", "/metrics")):
                assert refused.json() == {
                    "error": "too many wrong tokens from this address; try again in 6 s",
                    "code": "throttled",
                }
            assert attempt(other, WEB_TOKEN).status_code in (200, 303)
            clock.now += 6
            assert attempt(guesser, WEB_TOKEN).status_code in (200, 303)


@pytest.mark.parametrize(
    ("web", "headers", "metrics", "readyz"),
    [
        ("", {}, 401, {"status": "ready"}),
        ("", AUTH, 200, "checks"),
        ("", {"Authorization": "Bearer wrong"}, 401, {"status": "ready"}),
        (", metrics_need_token: false", {}, 200, "checks"),
    ],
)
def test_with_token_metrics_and_readiness_details_want_it(
    tmp_path: Path, secret_env: None, web: str, headers: dict[str, str], metrics: int, readyz: object
) -> None:
    with open_bench(tmp_path, token=True, web=web) as bench, client_from(bench, "10.1.2.3") as c:
        m = c.get("/metrics", headers=headers)
        assert m.status_code == metrics
        r = c.get("/readyz", headers=headers)
        assert r.status_code == 200
        if readyz == "checks":
            assert set(r.json()) == {"status", "checks"}
        else:
            assert r.json() == readyz
        assert c.get("/healthz").status_code == 200
        assert_no_secret([m.text, r.text], SECRETS)


def test_every_json_and_metrics_answer_says_nosniff(bench: Bench) -> None:
    event = bench.post_event("test.failed", "run-n")
    body = fusillade_body("test.completed", "run-accepted")
    answers = [
        bench.client.post("/hooks/fusillade", content=body, headers=signed(body)),  # 202
        bench.client.post("/hooks/fusillade", content=b"{}"),  # 401, refused before anything
        bench.get("/healthz"),
        bench.get("/readyz"),
        bench.get("/metrics"),
        bench.get("/api/stats"),
        bench.get(f"/api/events/{event}"),
        bench.get("/api/events/evt_nope"),
        bench.get("/nowhere"),
        bench.get("/ui"),
    ]
    assert [a.headers.get_list("x-content-type-options") for a in answers] == [["nosniff"]] * len(answers)


def test_login_page_is_reachable_with_token(token_bench: Bench) -> None:
    with client_from(token_bench, "10.1.2.3", base_url=BASE_URL) as c:
        r = c.get("/ui/login")
        assert r.status_code == 200 and 'name="token"' in r.text


def test_replay_clicks_work_whichever_process_answers(tmp_path: Path, daemons: list[Daemon]) -> None:
    """``server.processes: 3`` for real: each click on a fresh connection, spread by the kernel."""
    config = write_config(tmp_path, token=True)
    config.write_text(config.read_text() + "server: {processes: 3, watch_files: false}\n")
    daemon = Daemon(config, env=ENV).start(timeout=90)  # three processes on a busy machine
    daemons.append(daemon)
    body = fusillade_body("test.failed", "run-m")
    r = httpx.post(f"{daemon.url}/hooks/fusillade", content=body, headers=signed(body), timeout=10)
    assert r.status_code == 202, r.text
    event = r.json()["event_id"]
    with httpx.Client(base_url=daemon.url, timeout=10) as first:
        session = login(first)
        csrf = csrf_of(first.get(f"/ui/events/{event}/replay").text)
    answers = []
    for _ in range(20):
        with httpx.Client(base_url=daemon.url, timeout=10, cookies={"hookyard_session": session}) as c:
            r = c.post(f"/ui/events/{event}/replay", data={"csrf": csrf}, follow_redirects=False)
            answers.append(r.status_code)
    assert answers == [303] * 20
    assert_no_secret([daemon.logs()], SECRETS)
