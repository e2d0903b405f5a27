"""Polling in real ``hookyard serve`` processes against a fake Fusillade: ``kill -9`` mid-poll and a
restart resume every run without a duplicate event; two daemons on one store share the runs and
never poll one run at once."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import httpx

from tests.helpers import Daemon, stripe_header, wait_for
from tests.polling.fake_fusillade import API_KEY, FakeFusillade

SECRET = "whsec_poll_process_8d2f"
RUNS = [f"t-{i}" for i in range(12)]


def config(tmp: Path, fake: FakeFusillade, name: str = "config.yaml", api_key: str = API_KEY) -> Path:
    path = tmp / name
    path.write_text(
        f"storage: {{url: 'sqlite:///{tmp / 'data' / 'h.db'}'}}\nrules: []\n"
        "polling: {interval_seconds: 1, lease_seconds: 5}\n"
        f"sources:\n  - {{id: fusillade, kind: fusillade, secrets: ['{SECRET}'], "
        "poll: {sink: fusillade-api, start_on: [run.started]}}\n"
        f"sinks:\n  - {{id: fusillade-api, kind: fusillade, api_key: '{api_key}', base_url: '{fake.url}', "
        "allow_private: true, timeout_seconds: 3}\n"
    )
    return path


def start_runs(daemon: Daemon, fake: FakeFusillade) -> None:
    """Each run's run.started webhook: the source's poll: watches it from then on."""
    with httpx.Client(timeout=10) as client:
        for run_id in RUNS:
            fake.set(run_id, "running")
            body = json.dumps({"event": "test.started", "timestamp": "2026-02-06T12:00:00Z",
                               "data": {"test_id": run_id, "name": "smoke", "status": "running"}}).encode()  # fmt: skip
            headers = {"X-Fusillade-Signature": stripe_header(SECRET, body, int(time.time()))}
            assert client.post(daemon.url + "/hooks/fusillade", content=body, headers=headers).status_code == 202


def stored(db: Path) -> tuple[Counter[tuple[str, str]], dict[str, str]]:
    """(run id, event type) → events stored, and each run's poll state."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        events = Counter(conn.execute("SELECT json_extract(envelope, '$.data.run.id'), type FROM events"))
        polls = dict(conn.execute("SELECT run_id, state FROM polls"))
    return events, polls


def all_done(db: Path) -> bool:
    _, polls = stored(db)
    return len(polls) == len(RUNS) and set(polls.values()) == {"done"}


def test_kill_9_mid_poll_then_restart_resumes_without_duplicates(tmp_path: Path, daemons: list[Daemon]) -> None:
    db = tmp_path / "data" / "h.db"
    with FakeFusillade() as fake:
        daemon = Daemon(config(tmp_path, fake)).start()
        daemons.append(daemon)
        fake.delay = 2.0  # every answer takes 2 s: polls are in flight when the daemon dies
        start_runs(daemon, fake)
        wait_for(lambda: len(fake.arrivals) >= 3, 30, daemon.logs)
        daemon.kill9()
        asked_before = len(fake.arrivals)
        for run_id in RUNS:
            fake.set(run_id, "completed", p95_latency_ms=40)
        fake.delay = 0.0
        daemon.start()
        wait_for(lambda: all_done(db), 60, daemon.logs)
    events, _ = stored(db)
    assert events == Counter({(r, t): 1 for r in RUNS for t in ("run.started", "run.completed")})
    assert len(fake.arrivals) > asked_before


def test_two_daemons_share_the_runs_and_never_poll_one_at_once(tmp_path: Path, daemons: list[Daemon]) -> None:
    db = tmp_path / "data" / "h.db"
    with FakeFusillade() as fake:
        fake.keys = {"key-a", "key-b"}  # one key per daemon: the fake sees who asked
        fake.delay = 0.3
        first = Daemon(config(tmp_path, fake, "a.yaml", "key-a"), log=tmp_path / "a.log").start()
        daemons.append(first)
        second = Daemon(config(tmp_path, fake, "b.yaml", "key-b"), log=tmp_path / "b.log").start()
        daemons.append(second)
        start_runs(first, fake)
        wait_for(lambda: len(fake.arrivals) >= 3 * len(RUNS), 60, lambda: first.logs() + second.logs())
        for run_id in RUNS:
            fake.set(run_id, "completed")
        wait_for(lambda: all_done(db), 60, lambda: first.logs() + second.logs())
    by_run: dict[str, list[float]] = defaultdict(list)
    for run_id, at, _key in fake.arrivals:
        by_run[run_id].append(at)
    # A second poll of a run never starts while one is in flight (each answer takes 0.3 s).
    overlaps = [(r, b - a) for r, ats in by_run.items() for a, b in pairwise(ats) if b - a < 0.3]
    assert overlaps == []
    assert {key for _, _, key in fake.arrivals} == {"key-a", "key-b"}  # both daemons polled
    events, _ = stored(db)
    assert events == Counter({(r, t): 1 for r in RUNS for t in ("run.started", "run.completed")})
