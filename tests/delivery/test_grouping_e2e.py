"""Grouped actions with real daemons: ``kill -9`` while a group is open loses no member and sends
the group once after the restart; two daemons sharing one PostgreSQL agree on membership."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Daemon, fusillade_body, stripe_header, wait_for
from tests.pg import PostgresServer
from tests.servers import RecordingServer

SECRET = "whsec_grouping_e2e_7d1f"
RULES = """\
rules:
  - name: burst
    match: {type: run.completed}
    actions:
      - sink: hook
        group: {wait: WAIT, interval: 1s}
        request:
          path: /burst
          json: !json >-
            {"count": {{ group.count }}, "runs": {{ group.events | map(attribute="subject") | list | tojson }}}
"""


def write_config(folder: Path, hook: str, storage: str, wait: str) -> Path:
    (folder / "rules.yaml").write_text(RULES.replace("WAIT", wait))
    config = folder / "config.yaml"
    config.write_text(
        f"storage: {{url: '{storage}'}}\nrules: [rules.yaml]\n"
        "delivery: {workers: 2, poll_interval_seconds: 0.2}\n"
        f"sources:\n  - id: fus\n    kind: fusillade\n    secrets: ['{SECRET}']\n"
        f"sinks:\n  - id: hook\n    kind: http\n    base_url: {hook}\n    allow_private: true\n"
    )
    return config


def post(daemon: Daemon, run: str) -> str:
    body = fusillade_body("test.completed", run)
    headers = {"X-Fusillade-Signature": stripe_header(SECRET, body, int(time.time()))}
    r = httpx.post(daemon.url + "/hooks/fus", content=body, headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    return str(r.json()["event_id"])


def bursts(server: RecordingServer) -> list[dict[str, Any]]:
    return [r.json for r in server.received if r.path == "/burst"]


def test_kill_9_while_a_group_is_open_then_it_is_sent_once_with_every_member(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    with RecordingServer() as server:
        config = write_config(tmp_path, server.url, "sqlite:///data/h.db", "8s")
        daemon = Daemon(config).start()
        daemons.append(daemon)
        runs = [f"run-{i}" for i in range(12)]
        for run in runs:
            post(daemon, run)
        daemon.kill9()
        assert bursts(server) == [], "the group was sent before the kill: the test proves nothing"
        db = tmp_path / "data" / "h.db"
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT state, members FROM groups").fetchall() == [("open", 12)]
        daemon.start()  # the same config, database and port
        [sent] = wait_for(lambda: bursts(server), 60, daemon.logs)
        assert sent == {"count": 12, "runs": runs}
        time.sleep(2.5)  # a few more flushes and claims: nothing goes out again
        assert len(bursts(server)) == 1
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT state, members FROM groups").fetchall() == [("sent", 12)]
            assert conn.execute("SELECT state, attempts FROM deliveries").fetchall() == [("succeeded", 1)]
        assert "group.sent" in daemon.logs()


def test_two_daemons_on_one_postgresql_send_each_group_once_with_the_members_of_both(
    tmp_path: Path, daemons: list[Daemon], pg_server: PostgresServer
) -> None:
    url = pg_server.new_database()
    try:
        with RecordingServer() as server:
            first, second = (tmp_path / "a", tmp_path / "b")
            for folder in (first, second):
                folder.mkdir()
            pair = [Daemon(write_config(f, server.url, url, "3s")) for f in (first, second)]
            daemons.extend(pair)
            starting = [threading.Thread(target=d.start) for d in pair]
            for t in starting:
                t.start()
            for t in starting:
                t.join()
            assert all(d.proc is not None and d.proc.poll() is None for d in pair)
            # Both receive members of the same group (no by:, one group per rule action), both flush.
            runs = [f"run-{i}" for i in range(16)]
            for i, run in enumerate(runs):
                post(pair[i % 2], run)
            [sent] = wait_for(lambda: bursts(server), 60, lambda: pair[0].logs() + pair[1].logs())
            assert sent["count"] == 16 and sorted(sent["runs"]) == sorted(runs)
            # A late member opens a follow-up, sent once by one of them after the interval.
            post(pair[1], "run-late")
            wait_for(lambda: len(bursts(server)) == 2, 60, lambda: pair[0].logs() + pair[1].logs())
            time.sleep(2.5)
            assert [b["runs"] for b in bursts(server)[1:]] == [["run-late"]]
            logs = pair[0].logs() + pair[1].logs()
            assert logs.count("group.sent") == 2, logs
    finally:
        for d in daemons:
            d.stop()
        pg_server.drop_database(url)
