"""The SQLite group-commit writer while another process holds the write lock."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.helpers import Daemon, stripe_header

SECRET = "whsec_writer_test"


def test_a_held_write_lock_delays_the_ack_but_never_blocks_the_loop(tmp_path: Path, daemons: list[Daemon]) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "storage: {url: 'sqlite:///h.db'}\nrules: []\n"
        f"sources:\n  - id: fus\n    kind: fusillade\n    secrets: ['{SECRET}']\n"
    )
    daemon = Daemon(cfg).start()
    daemons.append(daemon)
    body = json.dumps({"event": "test.started", "data": {"test_id": "t1", "status": "running"}}).encode()
    headers = {"X-Fusillade-Signature": stripe_header(SECRET, body, int(time.time()))}

    other = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as a CLI command writing at the same moment would
    answer: dict[str, object] = {}

    def post() -> None:
        r = httpx.post(daemon.url + "/hooks/fus", content=body, headers=headers, timeout=30)
        answer.update(status=r.status_code, at=time.monotonic())

    sender = threading.Thread(target=post)
    sender.start()
    time.sleep(0.5)
    assert answer == {}  # not acknowledged: it is not on disk yet
    t0 = time.monotonic()
    assert httpx.get(daemon.url + "/healthz", timeout=5).status_code == 200
    assert time.monotonic() - t0 < 0.5  # the event loop is serving while the writer waits
    released = time.monotonic()
    other.execute("COMMIT")
    other.close()
    sender.join(timeout=10)
    assert answer["status"] == 202
    assert isinstance(answer["at"], float) and answer["at"] >= released
    with sqlite3.connect(tmp_path / "h.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_a_failing_operation_does_not_sink_its_batch(tmp_path: Path) -> None:
    asyncio.run(_failing_operation(tmp_path))


async def _failing_operation(tmp_path: Path) -> None:
    from receiver.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "w.db")
    await store.open()
    try:
        await store.write(lambda c: c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, note TEXT)"))

        def good(x: int):  # type: ignore[no-untyped-def]
            return lambda c: c.execute("INSERT INTO t VALUES (?, 'ok')", (x,)).rowcount

        def bad(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO t VALUES (100, 'partial')")  # written, then the op fails
            c.execute("INSERT INTO t VALUES (1, 'clash')")  # primary key taken by good(1)

        results = await asyncio.gather(
            store.write(good(1)), store.write(bad), store.write(good(2)), return_exceptions=True
        )
        assert results[0] == 1 and results[2] == 1
        assert isinstance(results[1], sqlite3.IntegrityError)
        rows = await store.write(lambda c: c.execute("SELECT x, note FROM t ORDER BY x").fetchall())
        assert rows == [(1, "ok"), (2, "ok")]  # the failing op's partial row is gone
    finally:
        await store.close()
