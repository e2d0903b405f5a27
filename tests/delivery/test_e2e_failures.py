"""End to end, when destinations misbehave: rate limits, outages, permanent errors, kill -9, ordering.

A real ``hookyard serve`` each time; what is asserted is what the destination received
and the attempt rows the daemon recorded.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.delivery.conftest import GITHUB_TOKEN, SLACK_PATH, Stack
from tests.helpers import free_port, fusillade_body, wait_for
from tests.servers import Received, RecordingServer, Reply

EVERY_RUN = """\
rules:
  - name: every-run
    match: {platform: fusillade, type: run.completed}
    actions:
      - sink: %s
%s
"""
HTTP_ACTION = """\
        request:
          method: POST
          path: /notify
          json: {run: "{{ event.subject }}"}
"""
SLACK_ACTION = """\
        title: "Run {{ event.subject }}"
        body: finished
"""
STATUS_ACTION = """\
        state: "{{ 'success' if event.data.run.outcome == 'passed' else 'failure' }}"
        repo: octo-org/shop
        sha: 3f786850e387550fdab836ed7e6dc881de23001b
        context: perf/load-test
        description: "run {{ event.subject }}"
"""


def http_sink(url: str, **options: object) -> str:
    extra = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in options.items())
    return (
        f"  - id: hook\n    kind: http\n    base_url: {url}\n    allow_private: true\n"
        "    headers: {Authorization: 'Bearer ${FUS_KEY}'}\n" + extra
    )


def github_sink(url: str) -> str:
    return (
        "  - id: github\n    kind: github_status\n    token: '${GH_TOKEN}'\n"
        f"    api_url: {url}\n    allow_private: true\n"
    )


def setup(stack: Stack, sink: str, sink_id: str, action: str, delivery: str = "") -> None:
    rules = stack.rule_file("rules.yaml", EVERY_RUN % (sink_id, action))
    stack.write(sinks=sink, rules=[rules], delivery=delivery)
    stack.start()


def post_runs(stack: Stack, n: int, prefix: str = "run") -> list[str]:
    return [stack.post(fusillade_body("test.completed", f"{prefix}-{i}", "API Load Test")) for i in range(n)]


def test_slack_429_waits_for_retry_after(stack: Stack) -> None:
    with RecordingServer(default=Reply(200, "ok")) as slack:
        slack.script(Reply(429, "rate_limited", {"Retry-After": "1"}))
        sink = (
            f"  - id: slack-perf\n    kind: apprise\n    urls: ['${{SLACK_URL}}']\n"
            f"    slack_base_url: {slack.url}/services\n"
        )
        setup(stack, sink, "slack-perf", SLACK_ACTION)
        (root,) = post_runs(stack, 1)
        (d,) = stack.settled("event_id = ?", root)
        assert (d["state"], d["attempts"]) == ("succeeded", 2)
        first, second = stack.attempts(d["id"])
        assert (first["outcome"], first["status_code"], second["outcome"]) == ("failed", 429, "succeeded")
        assert "rate_limited" in first["reason"]
        assert second["started_at"] - first["finished_at"] >= 1.0
        assert [r.path for r in slack.received] == [SLACK_PATH, SLACK_PATH]
    stack.assert_no_secrets(log=False)


class Flaky:
    """A destination that is down (HTTP 500 or not listening) until ``recover()``."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.down = True
        self.answered: list[tuple[str, int]] = []  # (Idempotency-Key, status) per request
        self.port = free_port()
        self.server = RecordingServer(self._answer)
        # Bind the fixed port so the URL stays valid across the outage.
        self.server._server.config.port = self.port
        if mode == "http_500":
            self.server.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answer(self, got: Received) -> Reply:
        reply = Reply(500, "upstream broke") if self.down else Reply(200, {"ok": True})
        self.answered.append((got.headers["idempotency-key"], reply.status))
        return reply

    def recover(self) -> None:
        self.down = False
        if self.mode == "refused":
            self.server.start()

    def close(self) -> None:
        if self.server.port:
            self.server.stop()


@pytest.fixture(params=["http_500", "refused"])
def flaky(request: pytest.FixtureRequest) -> Iterator[Flaky]:
    f = Flaky(request.param)
    yield f
    f.close()


def test_outage_then_recovery_delivers_everything_once(stack: Stack, flaky: Flaky) -> None:
    n = 10
    options = {"breaker_threshold": 3, "breaker_cooldown_seconds": 1, "max_attempts": 30, "concurrency": 4}
    setup(stack, http_sink(flaky.url, **options), "hook", HTTP_ACTION)
    roots = post_runs(stack, n)
    wait_for(lambda: len(stack.query("SELECT 1 FROM attempts")) >= 3, 10, stack.logs)
    time.sleep(2.5)  # stay down a while: the breaker must hold most deliveries back
    down_attempts = stack.query("SELECT delivery_id, reason FROM attempts")
    # The breaker opened: far fewer tries than deliveries while the destination was down.
    assert 3 <= len(down_attempts) < n
    expected = "HTTP 500" if flaky.mode == "http_500" else "cannot connect to 127.0.0.1"
    assert all(expected in r for _, r in down_attempts)
    if flaky.mode == "http_500":
        assert len(flaky.server.received) == len(down_attempts)

    flaky.recover()
    done = stack.settled(timeout=40)
    assert [d["state"] for d in done] == ["succeeded"] * n and {d["event_id"] for d in done} == set(roots)
    # Every delivery reached the destination once it was back, and only once: no 2xx twice.
    successes = Counter(key for key, status in flaky.answered if status == 200)
    assert successes == dict.fromkeys((d["id"] for d in done), 1)
    for d in done:
        attempts = stack.attempts(d["id"])
        assert [a["outcome"] for a in attempts] == ["failed"] * (len(attempts) - 1) + ["succeeded"]
        for before, after in itertools.pairwise(attempts):
            assert after["started_at"] - before["finished_at"] >= 1.0  # backoff, never a hot loop
    assert {r.headers["authorization"] for r in flaky.server.received} == {f"Bearer {stack.env['FUS_KEY']}"}
    stack.assert_no_secrets(log=False)


@pytest.mark.parametrize(("status", "reason"), [(401, "HTTP 401"), (404, "HTTP 404")])
def test_permanent_failure_is_dead_until_retried(stack: Stack, status: int, reason: str) -> None:
    answer = {"status": status}

    def respond(got: Received) -> Reply:
        if answer["status"] != 201:  # echoes the token: the daemon must not store it
            return Reply(answer["status"], {"message": f"Bad credentials {got.headers.get('authorization')}"})
        return Reply(201, {"id": 7, "state": got.json["state"]})

    with RecordingServer(respond) as gh:
        setup(stack, github_sink(gh.url), "github", STATUS_ACTION)
        (root,) = post_runs(stack, 1)
        (d,) = stack.settled("event_id = ?", root)
        assert (d["state"], d["attempts"]) == ("dead", 1)
        assert d["last_error"].startswith(reason)
        assert GITHUB_TOKEN not in d["last_error"] and "<redacted>" in d["last_error"]

        listed = stack.cli("deliveries", "--state", "dead", "--json")
        assert listed.returncode == 0, listed.stderr
        (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert (row["id"], row["state"], row["sink"], row["attempts"]) == (d["id"], "dead", "github", 1)
        assert row["attempt_log"][0]["status"] == status
        stack.assert_no_secrets(log=False)

        answer["status"] = 201
        retried = stack.cli("retry", d["id"])
        assert retried.returncode == 0, retried.stderr
        assert f"{d['id']} queued again" in retried.stdout
        done = wait_for(
            lambda: [x for x in stack.deliveries("id = ?", d["id"]) if x["state"] == "succeeded"], 10, stack.logs
        )
        assert done[0]["last_error"] is None or done[0]["last_error"] == d["last_error"]
        attempts = stack.attempts(d["id"])
        assert [(a["number"], a["outcome"], a["status_code"]) for a in attempts] == [
            (1, "failed", status),
            (2, "succeeded", 201),
        ]
        assert len(gh.received) == 2 and gh.received[1].json["state"] == "success"
        again = stack.cli("retry", d["id"])
        assert again.returncode == 1 and "only dead, suppressed or silenced deliveries can be retried" in again.stderr


def test_kill_9_with_requests_in_flight_loses_nothing(stack: Stack) -> None:
    slow = threading.Event()
    slow.set()

    def respond(got: Received) -> Reply:
        return Reply(200, {"ok": True}, delay=5.0 if slow.is_set() else 0.0)

    n = 12
    with RecordingServer(respond) as dest:
        setup(
            stack,
            # The kill comes well within the timeout; a short lease lets the restart reclaim soon.
            http_sink(dest.url, concurrency=4, timeout_seconds=4.5),
            "hook",
            HTTP_ACTION,
            delivery="  lease_seconds: 5\n",
        )
        post_runs(stack, n)
        wait_for(lambda: len(dest.received) >= 4, 10, stack.logs)
        assert stack.daemon is not None
        stack.daemon.kill9()
        in_flight = {r.headers["idempotency-key"] for r in dest.received}
        assert len(in_flight) == 4  # the sink's concurrency: four requests held by the slow server
        slow.clear()

        stack.start()
        done = stack.settled(timeout=30)
        assert [d["state"] for d in done] == ["succeeded"] * n
        by_key: dict[str, list[Received]] = {}
        for r in dest.received:
            by_key.setdefault(r.headers["idempotency-key"], []).append(r)
        assert set(by_key) == {d["id"] for d in done}  # none lost
        duplicated = {k for k, reqs in by_key.items() if len(reqs) > 1}
        # Exactly the attempts in flight at the kill were sent again, once, identically.
        assert duplicated == in_flight
        for key in duplicated:
            first, second = by_key[key]
            assert first.body == second.body and first.headers["idempotency-key"] == second.headers["idempotency-key"]
        for d in done:
            assert [a["outcome"] for a in stack.attempts(d["id"])] == ["succeeded"]


def test_older_status_is_superseded_by_a_newer_one(stack: Stack) -> None:
    failures = Counter[str]()

    def respond(got: Received) -> Reply:
        state = got.json["state"]
        if state == "failure" and failures[state] == 0:
            failures[state] += 1
            return Reply(502, {"message": "Server Error"})
        return Reply(201, {"id": 1, "state": state})

    with RecordingServer(respond) as gh:
        setup(stack, github_sink(gh.url), "github", STATUS_ACTION)
        threshold = [{"name": "p95 < 50", "passed": False, "value": 70, "limit": 50}]
        older = stack.post(fusillade_body("test.completed", "run-old", "Load", threshold_results=threshold))
        newer = stack.post(fusillade_body("test.completed", "run-new", "Load"))
        (old,) = stack.settled("event_id = ?", older)
        (new,) = stack.settled("event_id = ?", newer)
        assert (new["state"], old["state"]) == ("succeeded", "superseded")
        assert [(a["outcome"], a["status_code"]) for a in stack.attempts(old["id"])] == [
            ("failed", 502),
            ("superseded", None),
        ]
        # The stale `failure` went out only once (and failed); it never overwrote `success`.
        assert [r.json["state"] for r in gh.received] == ["failure", "success"]
        assert {r.path for r in gh.received} == {
            "/repos/octo-org/shop/statuses/3f786850e387550fdab836ed7e6dc881de23001b"
        }
