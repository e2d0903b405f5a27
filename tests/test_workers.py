"""``server.processes`` > 1: a supervisor, receiver processes and one dispatcher process.

Real ``hookyard serve`` processes throughout: what is asserted is what clients and a
local destination see, what the store holds, and which processes exist.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.delivery.conftest import EVERY_RUN_RULES, Stack
from tests.helpers import Daemon, fusillade_body, wait_for
from tests.pg import PostgresServer
from tests.servers import RecordingServer


@pytest.fixture
def stack(tmp_path: Path, daemons: list[Daemon]) -> Iterator[Stack]:
    s = Stack(tmp_path, daemons)
    yield s
    s.http.close()


def children_of(pid: int) -> dict[int, str]:
    """Live child processes of ``pid``: {pid: name} (the names the supervisor gives them)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmdline:
            found[int(entry)] = cmdline.decode(errors="replace")
    return found


def start(stack: Stack, dest: RecordingServer, *, poll: float = 30.0, storage: str | None = None) -> Daemon:
    sink = f"  - id: hook\n    kind: http\n    base_url: {dest.url}\n    allow_private: true\n"
    # A long poll interval: deliveries that arrive promptly were woken across processes.
    stack.write(
        sinks=sink,
        rules=[stack.rule_file("rules.yaml", EVERY_RUN_RULES)],
        server="{processes: 3, watch_files: false}",
        delivery=f"  poll_interval_seconds: {poll}\n",
        **({"storage": storage} if storage else {}),
    )
    # Stack.write put its own poll interval first; the later key would be a duplicate.
    assert stack.config is not None
    text = stack.config.read_text().replace("  poll_interval_seconds: 0.05\n", "")
    stack.config.write_text(text)
    return stack.start()


def post_many(stack: Stack, n: int, prefix: str) -> list[str]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = [fusillade_body("test.completed", f"{prefix}-{i}", "API Load Test") for i in range(n)]
        return list(pool.map(stack.post, bodies))


def test_receivers_store_every_event_once_and_the_dispatcher_delivers_at_once(stack: Stack) -> None:
    with RecordingServer() as dest:
        daemon = start(stack, dest)
        assert daemon.proc is not None
        kids = children_of(daemon.proc.pid)
        assert len(kids) == 3, kids  # two receivers and the dispatcher
        t0 = time.monotonic()
        ids = post_many(stack, 40, "run")
        wait_for(lambda: len(dest.received) >= 40, 10, stack.logs)
        assert time.monotonic() - t0 < 10  # woken, not polled (the poll interval is 30 s)
        assert len(set(ids)) == 40
        stored = stack.query("SELECT id FROM events")
        assert sorted(r[0] for r in stored) == sorted(ids)
        done = stack.settled()
        assert [d["state"] for d in done] == ["succeeded"] * 40
        assert sorted(json.loads(r.body)["run"] for r in dest.received) == sorted(f"run-{i}" for i in range(40))
        # Counters are summed over the processes, whichever one answers the scrape.
        for _ in range(4):
            text = httpx.get(daemon.url + "/metrics", timeout=5).text
            assert 'hookyard_events_received_total{duplicate="false",source="fusillade"} 40.0' in text
            # Counted by the dispatcher process, answered by any: the sum, and its breaker (closed).
            assert 'hookyard_deliveries_total{sink="hook",state="succeeded"} 40.0' in text
            assert 'hookyard_breaker_state{sink="hook"} 0.0' in text


def test_receivers_and_the_dispatcher_share_a_postgresql_store(stack: Stack, pg_server: PostgresServer) -> None:
    url = pg_server.new_database()
    try:
        with RecordingServer() as dest:
            start(stack, dest, storage=url)
            ids = post_many(stack, 60, "pg")
            wait_for(lambda: len(dest.received) >= 60, 10, stack.logs)  # woken: the poll is 30 s
            with psycopg.connect(url) as conn:
                stored = sorted(r[0] for r in conn.execute("SELECT id FROM events"))
                wait_for(lambda: _succeeded(conn) == 60, 10, stack.logs)
                states = conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
            assert len(set(ids)) == 60 and stored == sorted(ids)
            assert states == [("succeeded", 60)]
            assert sorted(json.loads(r.body)["run"] for r in dest.received) == sorted(f"pg-{i}" for i in range(60))
    finally:
        if stack.daemon is not None:
            stack.daemon.stop()  # before its database goes
        pg_server.drop_database(url)


def _succeeded(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'succeeded'").fetchone()
    conn.commit()  # a fresh snapshot for the next look
    return int(row[0]) if row else 0


def test_a_dead_child_is_replaced_and_nothing_is_lost(stack: Stack) -> None:
    with RecordingServer() as dest:
        daemon = start(stack, dest)
        assert daemon.proc is not None
        supervisor = daemon.proc.pid
        before = children_of(supervisor)
        for pid in before:  # every receiver and the dispatcher
            os.kill(pid, signal.SIGKILL)

        def replaced() -> bool:
            now = children_of(supervisor)
            return len(now) == 3 and not now.keys() & before.keys()

        wait_for(replaced, 20, stack.logs)
        wait_for(lambda: httpx.get(daemon.url + "/readyz", timeout=2).status_code == 200, 20, stack.logs)
        ids = post_many(stack, 10, "again")
        wait_for(lambda: len(dest.received) >= 10, 15, stack.logs)
        assert sorted(d["event_id"] for d in stack.settled()) == sorted(ids)
        assert "exited with -9; starting it again" in stack.logs()


def test_sigterm_stops_every_process(stack: Stack) -> None:
    with RecordingServer() as dest:
        daemon = start(stack, dest)
        assert daemon.proc is not None
        kids = children_of(daemon.proc.pid)
        daemon.stop()
        for pid in kids:
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_sighup_reloads_the_rules_in_every_process(stack: Stack) -> None:
    with RecordingServer() as dest:
        daemon = start(stack, dest)
        assert daemon.proc is not None
        rules = Path(stack.tmp / "rules.yaml")
        rules.write_text(EVERY_RUN_RULES.replace("/notify", "/changed"))
        os.kill(daemon.proc.pid, signal.SIGHUP)
        time.sleep(1.0)
        ids = post_many(stack, 12, "hup")
        wait_for(lambda: len(dest.received) >= 12, 15, stack.logs)
        assert {r.path for r in dest.received} == {"/changed"}
        assert len(stack.settled()) == len(ids)
