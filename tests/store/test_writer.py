"""The SQLite group-commit writer while another process holds the write lock."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from receiver.errors import StoreBusy, StoreUnavailable
from receiver.store.sqlite import SqliteStore
from tests.helpers import Daemon, stripe_header
from tests.store.locks import HeldLock
from tests.store.test_contract import event

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


class _GatedFsync:
    """A store whose WAL fsync waits for the test to open the gate (or fails)."""

    def __init__(self, tmp_path: Path, fail: bool = False) -> None:
        from receiver.store.sqlite import SqliteStore

        self.store = SqliteStore(tmp_path / "g.db")
        self.gate = threading.Event()
        self.fsyncs = 0
        writer = self.store._writer
        real = writer._fsync_wal

        def fsync() -> None:
            self.gate.wait(10)
            self.fsyncs += 1
            if fail:
                raise OSError(5, "Input/output error")
            real()

        writer._fsync_wal = fsync  # type: ignore[method-assign]

    async def __aenter__(self) -> _GatedFsync:
        await self.store.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.gate.set()  # never leave the fsync thread waiting
        await self.store.close()


def test_a_write_is_acknowledged_only_after_the_wal_fsync(tmp_path: Path) -> None:
    async def run() -> None:
        async with _GatedFsync(tmp_path) as gated:
            write = asyncio.ensure_future(gated.store.write(lambda c: c.execute("CREATE TABLE t (x)").rowcount))
            await asyncio.sleep(0.3)
            assert not write.done()  # committed, but not yet on disk: not acknowledged
            # Visible to readers already (committed), which is why only the ack waits.
            with sqlite3.connect(tmp_path / "g.db") as other:
                assert other.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 't'").fetchone()[0] == 1
            gated.gate.set()
            assert await asyncio.wait_for(write, 5) == -1
            assert gated.fsyncs >= 1

    asyncio.run(run())


def test_batches_committed_during_an_fsync_share_the_next_one(tmp_path: Path) -> None:
    async def run() -> None:
        async with _GatedFsync(tmp_path) as gated:
            await asyncio.sleep(0)
            first = asyncio.ensure_future(gated.store.write(lambda c: c.execute("CREATE TABLE t (x)").rowcount))
            await asyncio.sleep(0.2)  # first batch committed; its fsync is waiting at the gate
            insert = "INSERT INTO t VALUES (?)"
            later = [
                asyncio.ensure_future(gated.store.write(lambda c, i=i: c.execute(insert, (i,)).rowcount))
                for i in range(20)
            ]
            await asyncio.sleep(0.2)  # they commit while the first fsync is under way
            gated.gate.set()
            assert await asyncio.wait_for(first, 5) == -1
            assert await asyncio.wait_for(asyncio.gather(*later), 5) == [1] * 20
            assert gated.fsyncs == 2  # one for the first batch, one for everything after it

    asyncio.run(run())


def test_a_failed_fsync_fails_the_writes_it_covered(tmp_path: Path) -> None:
    async def run() -> None:
        async with _GatedFsync(tmp_path, fail=True) as gated:
            gated.gate.set()
            with pytest.raises(OSError) as failed:  # not acknowledged: its fsync failed
                await gated.store.write(lambda c: c.execute("CREATE TABLE t (x)").rowcount)
            assert failed.value.errno == 5

    asyncio.run(run())


def test_a_write_that_need_not_be_durable_is_answered_before_the_fsync(tmp_path: Path) -> None:
    async def run() -> None:
        async with _GatedFsync(tmp_path) as gated:
            durable = asyncio.ensure_future(gated.store.write(lambda c: c.execute("CREATE TABLE t (x)").rowcount))
            await asyncio.sleep(0.2)
            insert = "INSERT INTO t VALUES (1)"
            lease = await asyncio.wait_for(gated.store.write(lambda c: c.execute(insert).rowcount, durable=False), 2)
            assert lease == 1  # committed and answered while the fsync is still held at the gate
            assert not durable.done() and gated.fsyncs == 0
            gated.gate.set()
            assert await asyncio.wait_for(durable, 5) == -1

    asyncio.run(run())


# -- a write lock held by another process for longer than storage.busy_timeout_seconds -------------


def test_a_write_waits_for_the_lock_only_up_to_its_bound_and_the_writer_carries_on(tmp_path: Path) -> None:
    async def run() -> None:
        store = SqliteStore(tmp_path / "b.db", busy_timeout=2.0)
        await store.open()
        try:
            with HeldLock(tmp_path / "b.db") as lock:
                t0 = time.monotonic()
                first = asyncio.ensure_future(store.save_event(event("evt_first")))
                await asyncio.sleep(1.0)
                second = asyncio.ensure_future(store.save_event(event("evt_second")))  # its own bound: 2 s from now
                with pytest.raises(StoreBusy) as busy:
                    await asyncio.wait_for(first, 30)
                assert time.monotonic() - t0 >= 2.0  # refused only once its bound had passed
                assert not second.done()  # still within its own bound, still waiting
                lock.release()
                assert (await asyncio.wait_for(second, 30)).duplicate is False
            assert (busy.value.status, busy.value.code, busy.value.retry_after) == (503, "store_busy", 2)
            assert "2 s" in busy.value.message and "nothing was stored" in busy.value.message
            assert store._writer.failure is None
            # Nothing of the refused write was stored; it succeeds when the sender retries.
            assert await store.get_event("evt_first") is None
            assert (await store.save_event(event("evt_first"))).duplicate is False
            assert await store.count_events() == 2
        finally:
            await store.close()

    asyncio.run(run())


def test_closing_is_bounded_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    async def run() -> None:
        store = SqliteStore(tmp_path / "c.db", busy_timeout=0.5)
        await store.open()
        await store.save_event(event("evt_0"))  # something to checkpoint at close
        with HeldLock(tmp_path / "c.db"):
            waiting = asyncio.ensure_future(store.save_event(event("evt_1")))
            await asyncio.sleep(0.1)
            await asyncio.wait_for(store.close(), 20)  # the queued write is refused, not waited for forever
            with pytest.raises(StoreBusy):
                await waiting
        with sqlite3.connect(tmp_path / "c.db") as conn:
            assert [r[0] for r in conn.execute("SELECT id FROM events")] == ["evt_0"]

    asyncio.run(run())


def test_an_unexpected_writer_error_fails_every_waiting_write_and_is_reported_once(tmp_path: Path) -> None:
    async def run() -> None:
        store = SqliteStore(tmp_path / "f.db")
        failures: list[str] = []
        store.on_failure(failures.append)
        await store.open()
        try:
            await store.save_event(event("evt_before"))
            assert store._writer._conn is not None
            store._writer._conn.close()  # the next BEGIN raises ProgrammingError: not a busy lock
            with pytest.raises(StoreUnavailable) as failed:
                await asyncio.wait_for(store.save_event(event("evt_1")), 10)  # answered, not left hanging
            assert failed.value.status == 503 and failed.value.code == "store_unavailable"
            assert len(failures) == 1 and "ProgrammingError" in failures[0] and "\n" not in failures[0]
            with pytest.raises(StoreUnavailable):  # later writes are refused at once
                await asyncio.wait_for(store.save_event(event("evt_2")), 1)
            assert len(failures) == 1
        finally:
            await asyncio.wait_for(store.close(), 20)

    asyncio.run(run())


# -- the real daemon ---------------------------------------------------------------------------------


def _daemon_config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "storage: {url: 'sqlite:///h.db', busy_timeout_seconds: 1}\nrules: []\n"
        f"sources:\n  - id: fus\n    kind: fusillade\n    secrets: ['{SECRET}']\n" + extra
    )
    return cfg


def _post(daemon: Daemon, test_id: str) -> httpx.Response:
    body = json.dumps({"event": "test.started", "data": {"test_id": test_id, "status": "running"}}).encode()
    headers = {"X-Fusillade-Signature": stripe_header(SECRET, body, int(time.time()))}
    return httpx.post(daemon.url + "/hooks/fus", content=body, headers=headers, timeout=60)


def test_the_daemon_answers_store_busy_recovers_and_stops_within_a_bound_while_the_lock_is_held(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    daemon = Daemon(_daemon_config(tmp_path)).start()
    daemons.append(daemon)
    assert _post(daemon, "before").status_code == 202
    with HeldLock(tmp_path / "h.db"):
        busy = _post(daemon, "during")
        assert busy.status_code == 503 and busy.json()["code"] == "store_busy"
        assert busy.headers["retry-after"] == "1"
        ready = httpx.get(daemon.url + "/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["store"]["status"] == "busy"
        assert httpx.get(daemon.url + "/healthz", timeout=30).status_code == 200
    assert _post(daemon, "during").status_code == 202  # the sender's retry, once the lock is free
    assert httpx.get(daemon.url + "/readyz", timeout=30).status_code == 200

    with HeldLock(tmp_path / "h.db"):
        answer: dict[str, httpx.Response] = {}
        sender = threading.Thread(target=lambda: answer.update(r=_post(daemon, "at-shutdown")))
        sender.start()
        time.sleep(0.3)  # its write is waiting for the lock
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        # Not stuck behind the held lock. (uvicorn re-raises SIGTERM once it has shut down.)
        assert daemon.proc.wait(timeout=30) == -signal.SIGTERM
        sender.join(timeout=30)
    assert answer["r"].status_code == 503 and answer["r"].json()["code"] == "store_busy"
    with sqlite3.connect(tmp_path / "h.db") as conn:
        subjects = sorted(r[0] for r in conn.execute("SELECT subject FROM events"))
    assert subjects == ["before", "during"]  # nothing half-stored, nothing lost
    assert "Application shutdown complete" in daemon.logs()
    assert "Traceback" not in daemon.logs()


# Injected before the daemon imports anything: once the test creates the file "disk-fails" next to
# the config, the writer's next BEGIN fails as on a dying disk.
_FAULT = """
import os, sqlite3
from receiver.store.writer import GroupCommitWriter

_real = GroupCommitWriter._begin

async def _begin(self, waiting):
    if os.path.exists("disk-fails"):
        raise sqlite3.OperationalError("disk I/O error")
    return await _real(self, waiting)

GroupCommitWriter._begin = _begin
"""


def test_an_unexpected_writer_error_makes_the_daemon_exit_non_zero(tmp_path: Path, daemons: list[Daemon]) -> None:
    (tmp_path / "fault").mkdir()
    (tmp_path / "fault" / "sitecustomize.py").write_text(_FAULT)
    path = os.pathsep.join(p for p in (str(tmp_path / "fault"), os.environ.get("PYTHONPATH", "")) if p)
    # No dispatcher: its polls would meet the failure first; here the webhook's write does.
    daemon = Daemon(_daemon_config(tmp_path, "delivery: {workers: 0}\n"), env={"PYTHONPATH": path}).start()
    daemons.append(daemon)
    assert _post(daemon, "t0").status_code == 202
    (tmp_path / "disk-fails").touch()
    failed = _post(daemon, "t1")
    assert failed.status_code == 503 and failed.json()["code"] == "store_unavailable"
    assert daemon.proc is not None
    assert daemon.proc.wait(timeout=30) == 1  # a supervisor (systemd, server.processes) restarts it
    logs = daemon.logs()
    assert "the SQLite writer stopped (hookyard-sqlite-writer: OperationalError: disk I/O error)" in logs
    assert "Traceback" not in logs
