"""kill -9 the real daemon mid-stream: every acknowledged event survives, none twice."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.helpers import Daemon, stripe_header

SECRET = "whsec_crash_test_secret"


def body(i: int) -> bytes:
    return json.dumps(
        {
            "event": "test.completed",
            "timestamp": "2026-02-06T12:00:00Z",
            "data": {"test_id": f"run-{i}", "name": "crash", "status": "completed"},
        }
    ).encode()


def write_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "storage: {url: 'sqlite:///data/h.db'}\nrules: []\n"
        f"sources:\n  - id: fus\n    kind: fusillade\n    secrets: ['{SECRET}']\n"
    )
    return cfg


def post(client: httpx.Client, url: str, i: int) -> tuple[int, str | None]:
    b = body(i)
    headers = {"X-Fusillade-Signature": stripe_header(SECRET, b, int(time.time()))}
    try:
        r = client.post(url, content=b, headers=headers)
    except httpx.HTTPError:
        return i, None
    return i, r.json()["event_id"] if r.status_code == 202 else None


def test_acknowledged_events_survive_kill_9(tmp_path: Path, daemons: list[Daemon]) -> None:
    cfg = write_config(tmp_path)
    daemon = Daemon(cfg).start()
    daemons.append(daemon)
    url = daemon.url + "/hooks/fus"
    acked: dict[int, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def sender(offset: int) -> None:
        with httpx.Client(timeout=5) as client:
            i = offset
            while not stop.is_set():
                n, event_id = post(client, url, i)
                if event_id is None and stop.is_set():
                    return
                if event_id is not None:
                    with lock:
                        acked[n] = event_id
                i += 16

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    daemon.kill9()  # requests are still in flight at this moment
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 300, daemon.logs()

    with sqlite3.connect(tmp_path / "data" / "h.db") as conn:
        rows = conn.execute("SELECT id, body FROM events").fetchall()
    stored = {row[0]: row[1] for row in rows}
    missing = [i for i, eid in acked.items() if eid not in stored]
    assert missing == []
    bodies = [bytes(b) for b in stored.values()]
    assert len(bodies) == len(set(bodies)), "an event was stored twice"

    # After a restart the daemon knows them all: resending one is a duplicate, same id.
    daemon2 = Daemon(cfg).start()
    daemons.append(daemon2)
    some = sorted(acked)[:5]
    with httpx.Client(timeout=5) as client:
        for i in some:
            b = body(i)
            r = client.post(
                daemon2.url + "/hooks/fus",
                content=b,
                headers={"X-Fusillade-Signature": stripe_header(SECRET, b, int(time.time()))},
            )
            assert (r.status_code, r.json()) == (200, {"event_id": acked[i], "duplicate": True})
    with sqlite3.connect(tmp_path / "data" / "h.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(stored)


def test_concurrent_acknowledgements_are_all_stored(tmp_path: Path, daemons: list[Daemon]) -> None:
    cfg = write_config(tmp_path)
    daemon = Daemon(cfg).start()
    daemons.append(daemon)
    with (
        httpx.Client(timeout=10, limits=httpx.Limits(max_connections=32)) as client,
        ThreadPoolExecutor(32) as pool,
    ):
        results = list(pool.map(lambda i: post(client, daemon.url + "/hooks/fus", i), range(400)))
    assert all(eid is not None for _, eid in results)
    daemon.stop()
    with sqlite3.connect(tmp_path / "data" / "h.db") as conn:
        ids = {r[0] for r in conn.execute("SELECT id FROM events")}
    assert ids == {eid for _, eid in results}
