"""The HTTP surface while the store cannot write: another process holding the SQLite write
lock (503 store_busy, then recovery) and a store writer that died (/healthz fails, the app
asks to be stopped). In process, real SQLite, the lock held by a real second process."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from tests.delivery.conftest import EVERY_RUN_RULES
from tests.helpers import assert_no_secret, stripe_header
from tests.servers import RecordingServer
from tests.store.locks import HeldLock

NOW = 1735689600
SECRET = "whsec_store_busy_test"
CONFIG = f"""
storage: {{url: "sqlite:///store/events.db", busy_timeout_seconds: 0.3}}
rules: []
sources:
  - id: fusillade
    kind: fusillade
    secrets: ["{SECRET}"]
"""
BODY = json.dumps({"event": "test.started", "data": {"test_id": "t1", "status": "running"}}).encode()
HEADERS = {"X-Fusillade-Signature": stripe_header(SECRET, BODY, NOW), "Content-Type": "application/json"}


def _client(tmp_path: Path) -> TestClient:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    return TestClient(create_app(load_config(cfg), clock=lambda: NOW))


def _events(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "store" / "events.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def test_a_held_write_lock_answers_503_store_busy_then_webhooks_recover(tmp_path: Path) -> None:
    with _client(tmp_path) as client, HeldLock(tmp_path / "store" / "events.db") as lock:
        busy = client.post("/hooks/fusillade", content=BODY, headers=HEADERS)
        assert busy.status_code == 503
        assert busy.json()["code"] == "store_busy" and set(busy.json()) == {"error", "code"}
        assert busy.headers["Retry-After"] == "1"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["store"]["status"] == "busy"
        assert ready.json()["checks"]["store"]["code"] == "store_busy"
        assert client.get("/healthz").status_code == 200  # busy, not broken: the process can serve
        assert _events(tmp_path) == 0  # nothing half-stored
        lock.release()
        stored = client.post("/hooks/fusillade", content=BODY, headers=HEADERS)  # the sender's retry
        assert stored.status_code == 202 and stored.json()["duplicate"] is False
        assert client.get("/readyz").status_code == 200
        assert _events(tmp_path) == 1
        assert_no_secret([busy.text, ready.text], [SECRET])


def test_a_dead_store_writer_fails_healthz_and_asks_to_stop_the_process(tmp_path: Path) -> None:
    stops: list[bool] = []
    with _client(tmp_path) as client:
        hy = client.app.hookyard  # type: ignore[attr-defined]
        hy.on_fatal = lambda: stops.append(True)  # what `serve` turns into a non-zero exit
        assert client.get("/healthz").json() == {"status": "ok"}
        hy.store._writer._conn.close()  # the writer's next BEGIN fails unexpectedly
        failed = client.post("/hooks/fusillade", content=BODY, headers=HEADERS)
        assert failed.status_code == 503 and failed.json()["code"] == "store_unavailable"
        assert "Retry-After" in failed.headers
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "failing"
        assert "SQLite writer stopped" in health.json()["error"]
        assert client.get("/readyz").status_code == 503
        assert stops == [True]




def _wait(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_dispatcher_outlives_claims_refused_by_a_held_lock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "rules.yaml").write_text(EVERY_RUN_RULES)
    completed = json.dumps({"event": "test.completed", "data": {"test_id": "t9", "status": "completed"}}).encode()
    headers = {"X-Fusillade-Signature": stripe_header(SECRET, completed, NOW), "Content-Type": "application/json"}
    caplog.set_level(logging.INFO)
    with RecordingServer() as dest:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(
            CONFIG.replace("rules: []", "rules: [rules.yaml]")
            + "delivery: {poll_interval_seconds: 0.05}\n"
            + f"sinks:\n  - id: hook\n    kind: http\n    base_url: {dest.url}\n    allow_private: true\n"
        )
        config = load_config(cfg)
        with TestClient(create_app(config, clock=lambda: NOW)) as client:
            with HeldLock(tmp_path / "store" / "events.db"):
                _wait(lambda: "claiming deliveries failed: the store is busy" in caplog.text, "a refused claim")
            refused = [r for r in caplog.records if "claiming deliveries failed" in r.getMessage()]
            assert refused and all(r.exc_info is None for r in refused)  # one line each, no traceback
            assert client.post("/hooks/fusillade", content=completed, headers=headers).status_code == 202
            _wait(lambda: len(dest.received) == 1, "the delivery")  # the dispatcher kept running
            assert dest.received[0].json == {"run": "t9"}
