"""The dispatcher in-process: a fake clock, a real SQLite file, real sinks and local servers.

The circuit breaker never wedges (every way a probe ends settles it), a delivery held
back without attempts still ages out, and a send slower than its lease goes out once.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from receiver.store.sqlite import SqliteStore
from tests.delivery.harness import Harness, run
from tests.helpers import FakeClock
from tests.servers import RecordingServer, Reply

POST = {"request": {"method": "POST", "path": "/notify", "json": {"run": "r1"}}}
COOLDOWN = 10.0


def http_sink(url: str, **options: Any) -> dict[str, Any]:
    return {
        "kind": "http",
        "base_url": url,
        "allow_private": True,
        "breaker_threshold": 1,
        "breaker_cooldown_seconds": COOLDOWN,
        "max_attempts": 1,
        **options,
    }


def test_a_4xx_probe_closes_the_breaker_and_later_deliveries_go_out(tmp_path: Path) -> None:
    clock = FakeClock()
    with RecordingServer() as server:
        server.script(Reply(503, "down"), Reply(400, {"message": "bad field"}), Reply(200, {"ok": True}))

        async def body(h: Harness) -> None:
            first = await h.add("hook", POST)
            await h.dispatcher.run_once()  # 503: the breaker opens
            assert h.dispatcher.breaker_states() == {"hook": "open"}
            probe = await h.add("hook", POST)
            await h.dispatcher.run_once()  # held back while open: nothing sent
            assert len(server.received) == 1
            clock.advance(COOLDOWN)
            await h.dispatcher.run_once()  # the probe: 400, the delivery's fault, not the destination's
            assert h.dispatcher.breaker_states() == {"hook": "closed"}
            later = await h.add("hook", POST)
            await h.dispatcher.run_once()
            states = [(await h.delivery(i)).state.value for i in (first, probe, later)]
            assert states == ["dead", "dead", "succeeded"]
            assert (await h.delivery(probe)).last_error == 'HTTP 400: {"message": "bad field"}'
            assert len(server.received) == 3

        run(tmp_path, {"hook": http_sink(server.url)}, body, clock=clock)


STATUS = {"state": "success", "repo": "octo-org/shop", "sha": "3f786850e387550fdab836ed7e6dc881de23001b"}


def github_sink(url: str, **options: Any) -> dict[str, Any]:
    return {
        "kind": "github_status", "token": "ghp_dispatcher_test", "api_url": url, "allow_private": True,
        "breaker_threshold": 1, "breaker_cooldown_seconds": COOLDOWN, "max_attempts": 1, **options,
    }  # fmt: skip


SINKS = {"http": (http_sink, POST), "github_status": (github_sink, STATUS)}

# (case, sink kind, its options, probe params, the server's answer to the probe, breaker afterwards, probe state).
# A probe that ends without a verdict on the destination leaves it half-open, the next probe free to go.
PROBE_ENDINGS: list[tuple[str, str, dict[str, Any], dict[str, Any], Reply | None, str, str]] = [
    ("success", "http", {}, POST, Reply(200, {}), "closed", "succeeded"),
    ("4xx permanent", "http", {}, POST, Reply(404, "no such hook"), "closed", "dead"),
    ("retryable failure", "http", {}, POST, Reply(502, "bad gateway"), "open", "dead"),
    ("refused destination", "http", {}, {"request": {"url": "http://elsewhere.example/x"}}, None, "closed", "dead"),
    ("invalid params", "http", {}, {"request": {"method": "POST"}}, None, "closed", "dead"),
    ("missing commit", "github_status", {}, {"state": "success"}, None, "closed", "dead"),
    ("superseded", "http", {}, POST, None, "half_open", "superseded"),
    ("rate-limit postpone", "http", {"rate_per_second": 0.001}, POST, None, "half_open", "queued"),
]


@pytest.mark.parametrize(
    ("case", "kind", "options", "params", "answer", "breaker", "state"),
    PROBE_ENDINGS,
    ids=[c[0] for c in PROBE_ENDINGS],
)
def test_every_probe_ending_settles_the_breaker(
    tmp_path: Path,
    case: str,
    kind: str,
    options: dict[str, Any],
    params: dict[str, Any],
    answer: Reply | None,
    breaker: str,
    state: str,
) -> None:
    clock = FakeClock()
    make_sink, good = SINKS[kind]
    with RecordingServer() as server:
        server.script(Reply(503, "down"))
        if answer is not None:
            server.script(answer)

        async def body(h: Harness) -> None:
            key = "k" if case == "superseded" else None
            probe = await h.add("hook", params, ordering_key=key)
            clock.advance(1)
            opener = await h.add("hook", good, ordering_key=key)
            h.sql("UPDATE deliveries SET next_attempt_at = next_attempt_at + 5 WHERE id = ?", probe)
            await h.dispatcher.run_once()  # only the opener is due: 503 opens the breaker
            assert (await h.delivery(opener)).state.value == "dead"
            assert h.dispatcher.breaker_states() == {"hook": "open"}
            if case == "superseded":  # a newer update for the same target went out meanwhile
                h.sql("UPDATE deliveries SET state = 'succeeded' WHERE id = ?", opener)
            clock.advance(COOLDOWN)
            await h.dispatcher.run_once()  # the probe
            assert (await h.delivery(probe)).state.value == state
            assert h.dispatcher.breaker_states() == {"hook": breaker}
            sent = 2 if answer is not None else 1
            assert len(server.received) == sent
            # Never wedged: a later delivery goes out within a few cooldowns (and rate-limit tokens).
            server.default = Reply(201, {})
            after = await h.add("hook", good)
            for _ in range(4):
                clock.advance(COOLDOWN + (1000 if "rate_per_second" in options else 0))
                await h.dispatcher.run_once()
            assert (await h.delivery(after)).state.value == "succeeded"
            assert h.dispatcher.breaker_states() == {"hook": "closed"}

        run(tmp_path, {"hook": make_sink(server.url, **options)}, body, clock=clock)


@pytest.mark.parametrize(
    ("why", "options"),
    [
        ("circuit breaker open", {"breaker_threshold": 1, "breaker_cooldown_seconds": 600}),
        ("rate limit", {"rate_per_second": 0.0001, "breaker_threshold": 100}),
    ],
)
def test_deliveries_held_back_without_attempts_go_dead_at_their_max_age(
    tmp_path: Path, why: str, options: dict[str, Any]
) -> None:
    """An outage longer than max_age_seconds: every delivery ends dead, by attempts or by age."""
    clock = FakeClock()
    with RecordingServer(default=Reply(503, "down")) as server:

        async def body(h: Harness) -> None:
            ids = [await h.add("hook", POST) for _ in range(3)]
            for _ in range(40):
                await h.dispatcher.run_once()
                if [(await h.delivery(i)).state.value for i in ids] == ["dead"] * 3:
                    break
                clock.advance(300)
            rows = [await h.delivery(i) for i in ids]
            assert [r.state.value for r in rows] == ["dead"] * 3, "postponed forever"
            by_age = f"gave up after 3600 s without sending: {why}"
            errors = [r.last_error or "" for r in rows]
            assert by_age in errors
            assert all(e == by_age or re.fullmatch(r"gave up after \d+ attempts: HTTP 503: down", e) for e in errors)
            aged = ids[errors.index(by_age)]
            assert [a.outcome for a in await h.attempts(aged)][-1] == "dead"
            assert clock.now - 1000 <= 3600 + 300  # gave up on schedule, not rounds later
            assert h.metric("hookyard_dead_letters_total", sink="hook") == 3
            assert len(server.received) >= 1

        sink = http_sink(server.url, max_attempts=8, max_age_seconds=3600, **options)
        run(tmp_path, {"hook": sink}, body, clock=clock)


def test_a_send_slower_than_its_lease_goes_out_once(tmp_path: Path) -> None:
    """Real time: the lease (0.3 s) runs out several times while the destination takes 2 s."""
    with RecordingServer(default=Reply(200, {"ok": True}, delay=2.0)) as server:

        async def body(h: Harness) -> None:
            delivery = await h.add("hook", POST)
            h.dispatcher.start()
            deadline = time.monotonic() + 30
            while (await h.delivery(delivery)).state.value != "succeeded":
                assert time.monotonic() < deadline, "never delivered"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # anything claimed twice would have been sent by now
            assert len(server.received) == 1
            assert [a.outcome for a in await h.attempts(delivery)] == ["succeeded"]

        sink = http_sink(server.url, timeout_seconds=10)
        run(tmp_path, {"hook": sink}, body, clock=time.time, lease_seconds=0.3, monotonic=time.monotonic)


class LockedOutStore(SqliteStore):
    """A store whose lease renewals fail (another process holds the write lock too long)."""

    async def renew(self, delivery_id: str, owner: str, until: float) -> bool:
        raise sqlite3.OperationalError("database is locked")


def test_a_delivery_claimed_again_while_in_flight_is_not_sent_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Renewals fail, so the lease runs out mid-send and this dispatcher claims the delivery
    again: it must not start a second send of it."""
    with RecordingServer(default=Reply(200, {"ok": True}, delay=2.0)) as server:

        async def body(h: Harness) -> None:
            delivery = await h.add("hook", POST)
            h.dispatcher.start()
            deadline = time.monotonic() + 30
            while (await h.delivery(delivery)).state.value != "succeeded":
                assert time.monotonic() < deadline, "never delivered"
                await asyncio.sleep(0.05)
            assert len(server.received) == 1
            assert [a.outcome for a in await h.attempts(delivery)] == ["succeeded"]

        sink = http_sink(server.url, timeout_seconds=10)
        run(
            tmp_path, {"hook": sink}, body, clock=time.time, lease_seconds=0.3, monotonic=time.monotonic,
            store_class=LockedOutStore,
        )  # fmt: skip
    assert "renewing its lease failed: OperationalError" in caplog.text
