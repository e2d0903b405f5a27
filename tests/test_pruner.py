"""The background pruner (receiver/pruner.py): passes with a fake clock on a real SQLite file
(counts, metrics, log line, batch bound, space given back, prompt stop, failures), `hookyard db
vacuum` for an older file, and one real daemon pruning on its own."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from receiver.app import create_app
from receiver.cli.main import main
from receiver.config import RetentionModel, load_config
from receiver.errors import StoreBusy
from receiver.metrics import Metrics
from receiver.pruner import Pruner, longest_repeat_interval
from receiver.rules import load_rules
from receiver.sinks import SINKS
from receiver.store.base import (
    AttemptRow,
    DeliveryState,
    Deployment,
    NewEvent,
    Outcome,
    RepeatKey,
    RepeatRecord,
    SilenceRow,
)
from receiver.store.retention import Pruned
from receiver.store.sqlite import SqliteStore
from tests.helpers import ROOT, Daemon, FakeClock, wait_for
from tests.store.test_contract import delivery, event

DAY = 86_400.0
NOW = 1_000.0 + 100 * DAY


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def fill(store: SqliteStore, n: int, *, at: float, body: bytes = b"{}", state: str = "succeeded") -> None:
    for i in range(n):
        ev: NewEvent = event(f"e{at:.0f}-{i:05}", t=at + i, body=body + str(i).encode(), keys=(f"id:{at}-{i}",))
        await store.save_event(ev, [delivery(f"d{at:.0f}-{i:05}", state=DeliveryState(state))])


def with_store(path: Path, body: Callable[[SqliteStore], Awaitable[None]], clock: Any = None) -> None:
    async def main_() -> None:
        store = SqliteStore(path, clock=clock or FakeClock(NOW))
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main_())


def test_the_defaults_are_a_month_of_events_and_a_year_of_runs() -> None:
    policy = load_config(ROOT / "config.example.yaml").storage.retention
    assert (policy.enabled, policy.events_days, policy.runs_days) == (True, 30, 365)


def test_the_commented_example_block_loads_as_the_defaults(tmp_path: Path) -> None:
    lines = (ROOT / "config.example.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  # retention:"))
    block = []
    for line in lines[start:]:
        if not line.startswith("  #"):
            break
        block.append(line.replace("  # ", "  ", 1))
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n" + "\n".join(block) + "\nrules: []\n")
    assert load_config(config).storage.retention == RetentionModel()


def test_a_pass_prunes_the_old_counts_it_and_logs_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()

    async def body(store: SqliteStore) -> None:
        await fill(store, 5, at=1_000.0)  # 100 days old
        await fill(store, 2, at=NOW - DAY, state="retrying")  # young, and still being delivered
        pruner = Pruner(store, RetentionModel(), clock=FakeClock(NOW), metrics=metrics)
        with caplog.at_level(logging.INFO, logger="hookyard.retention"):
            assert await pruner.run_pass() == Pruned(events=5, deliveries=5, event_keys=5)
            assert await pruner.run_pass() == Pruned()  # nothing left: no line
        assert await store.count_events() == 2

    with_store(tmp_path / "h.db", body)
    lines = [r.getMessage() for r in caplog.records if r.name == "hookyard.retention"]
    assert len(lines) == 1 and lines[0].startswith("retention.pass deliveries=5 event_keys=5 events=5 reclaimed_bytes=")
    assert sample(metrics, "hookyard_retention_pruned_rows_total", table="events") == 5
    assert sample(metrics, "hookyard_retention_pruned_rows_total", table="deliveries") == 5
    assert sample(metrics, "hookyard_retention_passes_total") == 2
    assert sample(metrics, "hookyard_retention_last_pass_seconds") > 0
    assert sample(metrics, "hookyard_retention_errors_total") == 0


async def side_rows(store: SqliteStore, at: float) -> None:
    """Two deployments of one repository, an ended silence and a sent repeat key, all from ``at``."""
    for n in (1, 2):
        deployment = Deployment(f"dep{n}", "acme/shop", None, f"sha{n}", "main", None, at + n)
        await store.save_event(dataclasses.replace(event(f"dep{n}", t=at + n), deployment=deployment))
    await store.add_silence(SilenceRow("sil1", ["source=ci"], at, at + 60, "down", "cli", at))
    key = RepeatKey("nightly", 0, "")
    assert (await store.repeat_reserve(key, "aaa", "d-rep", at, 3600.0, at + 30)).verdict == "send"
    await store.save_event(event("e-rep", t=at), [delivery("d-rep")])
    [claimed] = await store.claim_due(at, 10, 30.0, "w1")
    attempt = AttemptRow("d-rep", 0, at, at, 1.0, "succeeded", 200, None, None, None)
    record = RepeatRecord(key, "aaa", "d-rep", True, at)
    assert await store.finish(claimed.delivery.id, "w1", Outcome(attempt, DeliveryState.SUCCEEDED, repeat=record))


@pytest.mark.parametrize(
    ("repeat_days", "notify_log"),
    [(0.0, 1), (39.0, 1), (41.0, 0)],  # a repeat_interval longer than the row's age keeps it
)
def test_a_pass_prunes_the_side_tables_and_counts_them(tmp_path: Path, repeat_days: float, notify_log: int) -> None:
    metrics = Metrics()

    async def body(store: SqliteStore) -> None:
        await side_rows(store, NOW - 40 * DAY)
        pruner = Pruner(store, RetentionModel(), clock=FakeClock(NOW), metrics=metrics,
                        keep_repeats=lambda: repeat_days * DAY)  # fmt: skip
        pruned = await pruner.run_pass()
        expected = Pruned(events=3, deliveries=1, attempts=1, deployments=1, silences=1, notify_log=notify_log)
        assert pruned == +expected

    with_store(tmp_path / "h.db", body)
    for table in ("deployments", "silences", "notify_log"):
        assert sample(metrics, "hookyard_retention_pruned_rows_total", table=table) == (
            notify_log if table == "notify_log" else 1
        )


@pytest.mark.parametrize(
    ("options", "seconds"),
    [("", 0.0), ("        repeat_interval: 4h\n", 4 * 3600.0), ("        repeat_interval: 60d\n", 60 * DAY)],
    ids=["one-action-1h", "longest-4h", "longest-60d"],
)
def test_the_notification_log_is_kept_the_longest_repeat_interval(tmp_path: Path, options: str, seconds: float) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - name: nightly\n    actions:\n"
        "      - sink: hook\n        request: {method: POST, path: /a, json: {text: x}}\n"
        "        repeat_interval: 1h\n"
        "      - sink: hook\n        request: {method: POST, path: /b, json: {text: x}}\n" + options
    )
    rules = load_rules([path], {"hook": SINKS["http"].action})
    assert longest_repeat_interval(rules) == max(seconds, 3600.0)
    assert longest_repeat_interval(None) == 0.0
    # The daemon's pruner asks the rules in force at each pass (a reload changes them).
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage: {{url: 'sqlite:///{tmp_path / 'h.db'}'}}\n"
        "sinks: [{id: hook, kind: http, base_url: 'http://127.0.0.1:9', allow_private: true}]\n"
        f"rules: ['{path}']\n"
    )
    runtime = create_app(load_config(config)).hookyard  # type: ignore[attr-defined]
    assert runtime.pruner.keep_repeats() == max(seconds, 3600.0)
    runtime.router.swap(load_rules([], {}))
    assert runtime.pruner.keep_repeats() == 0.0


def test_batches_are_bounded_and_the_pruner_yields_between_them(tmp_path: Path) -> None:
    sizes: list[int] = []
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    async def body(store: SqliteStore) -> None:
        await fill(store, 7, at=1_000.0)
        pruner = Pruner(store, RetentionModel(batch_size=3), clock=FakeClock(NOW), pause=pause)
        prune = pruner.ops.prune_events

        async def spy(before: float, limit: int) -> Pruned:
            batch = await prune(before, limit)
            sizes.append(batch["events"])
            return batch

        pruner.ops.prune_events = spy  # type: ignore[method-assign]
        assert (await pruner.run_pass())["events"] == 7

    with_store(tmp_path / "h.db", body)
    assert sizes == [3, 3, 1]
    assert len(pauses) >= 2  # after each full batch (and between the reclaim steps)


def test_sqlite_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    metrics = Metrics()
    with_store(path, lambda store: fill(store, 600, at=1_000.0, body=os.urandom(4000).hex().encode()))
    full = os.path.getsize(path)  # closing checkpointed the WAL into the file

    async def prune(store: SqliteStore) -> None:
        await Pruner(store, RetentionModel(), clock=FakeClock(NOW), metrics=metrics).run_pass()

    with_store(path, prune)
    assert os.path.getsize(path) < full / 4, (full, os.path.getsize(path))
    assert sample(metrics, "hookyard_retention_reclaimed_bytes_total") > full / 2


def test_an_older_file_is_switched_by_db_vacuum(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "h.db"
    with sqlite3.connect(path) as conn:  # made before retention: auto_vacuum none
        conn.execute("PRAGMA journal_mode=WAL")
    with_store(path, lambda store: fill(store, 300, at=1_000.0, body=os.urandom(4000).hex().encode()))

    async def prune(store: SqliteStore) -> None:
        await Pruner(store, RetentionModel(), clock=FakeClock(NOW)).run_pass()

    with caplog.at_level(logging.INFO, logger="hookyard.retention"):
        with_store(path, prune)
    assert any(r.getMessage().startswith("retention.no_reclaim") for r in caplog.records)
    before = os.path.getsize(path)
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: sqlite:///{path}\nrules: []\n")

    result = CliRunner().invoke(main, ["db", "vacuum", "--config", str(config)])

    assert result.exit_code == 0, result.output
    assert "auto_vacuum incremental" in result.output
    assert os.path.getsize(path) < before / 4
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2


def test_stop_ends_a_pass_between_two_batches(tmp_path: Path) -> None:
    async def body(store: SqliteStore) -> None:
        await fill(store, 50, at=1_000.0)
        first_batch = asyncio.Event()
        pruner: Pruner

        async def pause(seconds: float) -> None:
            first_batch.set()
            await asyncio.sleep(0.01)

        policy = RetentionModel(batch_size=1).model_copy(update={"interval_seconds": 0.01})
        pruner = Pruner(store, policy, clock=FakeClock(NOW), pause=pause)
        pruner.start()
        await asyncio.wait_for(first_batch.wait(), 30)
        await pruner.stop()
        assert not pruner.running
        left = await store.count_events()
        assert 0 < left < 50  # stopped mid-pass; the rest waits for the next start

    with_store(tmp_path / "h.db", body)


def test_a_failed_pass_is_counted_logged_and_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()

    async def body(store: SqliteStore) -> None:
        await fill(store, 3, at=1_000.0)
        policy = RetentionModel().model_copy(update={"interval_seconds": 0.01})
        pruner = Pruner(store, policy, clock=FakeClock(NOW), metrics=metrics)
        prune = pruner.ops.prune_events
        calls = 0

        async def busy_once(before: float, limit: int) -> Pruned:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise StoreBusy("the store is busy: another process has held its write lock", retry_after=5)
            return await prune(before, limit)

        pruner.ops.prune_events = busy_once  # type: ignore[method-assign]
        pruner.start()
        for _ in range(3000):
            if await store.count_events() == 0:
                break
            await asyncio.sleep(0.01)
        await pruner.stop()
        assert await store.count_events() == 0

    with caplog.at_level(logging.INFO, logger="hookyard.retention"):
        with_store(tmp_path / "h.db", body)
    assert sample(metrics, "hookyard_retention_errors_total") == 1
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retention.failed")]
    assert failed == ['retention.failed error="StoreBusy: the store is busy: another process has held its write lock"']


def test_the_daemon_prunes_in_the_background(tmp_path: Path, daemons: list[Daemon]) -> None:
    """One real process: old history is pruned on its own, /metrics shows it, the log says so,
    and SIGTERM still stops it promptly."""
    data = tmp_path / "data" / "h.db"
    data.parent.mkdir()
    with_store(data, lambda store: fill(store, 20, at=1_000.0))  # 1970: long past any horizon
    config = tmp_path / "config.yaml"
    config.write_text(
        "server: {watch_files: false}\n"
        f"storage:\n  url: sqlite:///{data}\n  retention: {{interval_seconds: 1, batch_size: 8}}\n"
        "rules: []\nweb: {metrics_need_token: false}\n"
    )
    daemon = Daemon(config).start()
    daemons.append(daemon)

    def pruned() -> float | None:
        for line in httpx.get(daemon.url + "/metrics", timeout=5).text.splitlines():
            if line.startswith('hookyard_retention_pruned_rows_total{table="events"}'):
                return float(line.split()[-1]) or None
        return None

    assert wait_for(pruned, timeout=60, explain=daemon.logs) == 20
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once its shutdown is complete: not killed, the lifespan (and with it
    # the pruner's loop) ended.
    assert daemon.proc.wait(timeout=30) == -signal.SIGTERM
    assert "Application shutdown complete" in daemon.logs()
    assert "retention.pass " in daemon.logs() and "events=20" in daemon.logs()
    with sqlite3.connect(data) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


@pytest.mark.parametrize(("deliver", "prunes"), [(True, True), (False, False)], ids=["delivering", "receiver-only"])
def test_the_pruner_runs_where_deliveries_are_sent(tmp_path: Path, deliver: bool, prunes: bool) -> None:
    """With server.processes > 1 only the dispatcher process prunes; it stops with the app."""
    from receiver.app import create_app

    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: sqlite:///{tmp_path / 'h.db'}\nrules: []\nserver: {{watch_files: false}}\n")
    app = create_app(load_config(config), deliver=deliver)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            assert app.hookyard.pruner.running is prunes
        assert not app.hookyard.pruner.running

    asyncio.run(run())


def test_db_vacuum_on_postgresql_has_nothing_to_do(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  url: postgresql://hookyard@127.0.0.1:1/none\nrules: []\n")
    result = CliRunner().invoke(main, ["db", "vacuum", "--config", str(config)])
    said = "PostgreSQL: its autovacuum makes pruned rows' space reusable; nothing to do\n"
    assert (result.exit_code, result.output) == (0, said)
