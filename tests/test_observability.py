"""What an operator sees: ``/metrics`` values and the structured log lines, after a scripted
sequence through a real app (real SQLite, a real destination on loopback, the real dispatcher)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from receiver.status import storage_kind
from tests.delivery.conftest import EVERY_RUN_RULES
from tests.helpers import assert_no_secret, stripe_header, wait_for
from tests.servers import RecordingServer, Reply

NOW = 1_780_000_000.0
FUS_SECRET = "whsec_observability_secret_81"
SINK_TOKEN = "tok_sink_observability_5521"
WEB_TOKEN = "web_token_observability_907_5e1c0a9b2d"
WEB = {"Authorization": f"Bearer {WEB_TOKEN}"}


def config_text(url: str, **delivery: Any) -> str:
    return f"""\
storage: {{url: "sqlite:///store/h.db"}}
server: {{watch_files: false, max_body_bytes: 4096}}
web: {{token: "{WEB_TOKEN}"}}
rules: [rules.yaml]
delivery: {{workers: 4, poll_interval_seconds: 0.05}}
sources:
  - id: fusillade
    kind: fusillade
    secrets: ["{FUS_SECRET}"]
sinks:
  - id: hook
    kind: http
    base_url: {url}
    allow_private: true
    headers: {{Authorization: "Bearer {SINK_TOKEN}"}}
    max_attempts: 2
    breaker_threshold: 1
    breaker_cooldown_seconds: 600
"""


def body(run: str) -> bytes:
    data = {"test_id": run, "name": "API Load Test", "status": "completed"}
    return json.dumps({"event": "test.completed", "timestamp": "2026-02-06T12:00:00Z", "data": data}).encode()


def post(client: TestClient, payload: bytes, secret: str = FUS_SECRET) -> int:
    headers = {"X-Fusillade-Signature": stripe_header(secret, payload, int(NOW)), "Content-Type": "application/json"}
    return client.post("/hooks/fusillade", content=payload, headers=headers).status_code


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {WEB_TOKEN}"})  # a web token guards it
    assert r.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Db:
    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def state_of(self, run: str) -> tuple[str, float]:
        found = self.rows(
            "SELECT d.state, d.next_attempt_at FROM deliveries d JOIN events e ON e.id = d.event_id "
            "WHERE e.subject = ?",
            run,
        )
        return found[0] if found else ("", 0.0)


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    records = caplog.get_records("setup") + caplog.records  # the app starts in the fixture
    return [dict(r.fields) for r in records if getattr(r, "event", None) == name]  # type: ignore[attr-defined]


@pytest.fixture
def setup(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[tuple[TestClient, RecordingServer, Path]]:
    caplog.set_level(logging.DEBUG, logger="hookyard")
    with RecordingServer() as server:
        # The 400 echoes the credential back: it must not reach the log or the metrics.
        server.script(
            Reply(200, {"ok": True}), Reply(400, f"bad token Bearer {SINK_TOKEN}"), Reply(503, "down for a bit")
        )
        (tmp_path / "rules.yaml").write_text(EVERY_RUN_RULES)
        cfg = tmp_path / "config.yaml"
        cfg.write_text(config_text(server.url))
        config = load_config(cfg)
        app = create_app(config, clock=lambda: NOW)
        with TestClient(app) as client:
            yield client, server, tmp_path


def test_a_scripted_sequence_shows_in_metrics_and_logs(
    setup: tuple[TestClient, RecordingServer, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, server, tmp = setup
    db = Db(tmp / "store" / "h.db")
    expected = {"run-ok": "succeeded", "run-400": "dead", "run-503": "retrying"}
    for run, state in expected.items():  # one at a time, so each meets its scripted answer
        assert post(client, body(run)) == 202
        wait_for(lambda run=run, state=state: db.state_of(run)[0] == state, explain=lambda run=run: run)  # type: ignore[misc]
    # The breaker is open now: the next delivery is held back, not sent.
    assert post(client, body("run-held")) == 202
    wait_for(lambda: db.state_of("run-held")[1] > NOW, explain=lambda: "run-held not postponed")
    for _ in range(4):  # a burst from one client: every one counted, one log line (held back: the rest)
        assert post(client, body("run-bad-sig"), secret="whsec_wrong") == 401
    assert client.post("/hooks/nope", content=b"{}").status_code == 404
    assert client.post("/hooks/fusillade", content=b"x" * 5000).status_code == 413

    reloader = client.app.reloader  # type: ignore[attr-defined]
    assert reloader.reload() is True
    (tmp / "rules.yaml").write_text(EVERY_RUN_RULES.replace("sink: hook", "sink: missing"))
    assert reloader.reload() is False

    m = scrape(client)
    assert value(m, "hookyard_events_received_total", source="fusillade", duplicate="false") == 4
    assert value(m, "hookyard_requests_rejected_total", source="fusillade", code="signature_mismatch") == 4
    assert value(m, "hookyard_deliveries_total", sink="hook", state="succeeded") == 1
    assert value(m, "hookyard_deliveries_total", sink="hook", state="dead") == 1
    assert value(m, "hookyard_dead_letters_total", sink="hook") == 1
    for outcome in ("succeeded", "permanent", "retryable"):
        assert value(m, "hookyard_attempts_total", sink="hook", outcome=outcome) == 1
    assert value(m, "hookyard_attempt_duration_seconds_count", sink="hook") == 3
    assert value(m, "hookyard_delivery_lag_seconds_count", sink="hook") == 1
    assert value(m, "hookyard_delivery_lag_seconds_sum", sink="hook") == 0  # the clock stood still
    depth = {dict(labels)["state"]: n for (name, labels), n in m.items() if name == "hookyard_queue_depth"}
    assert depth == {
        "queued": 1, "in_progress": 0, "retrying": 1, "succeeded": 1, "dead": 1, "superseded": 0, "suppressed": 0,
        "silenced": 0,
    }  # fmt: skip
    assert value(m, "hookyard_oldest_due_age_seconds") == 0  # the held and the retrying one wait for later
    assert value(m, "hookyard_breaker_state", sink="hook") == 2  # open
    assert value(m, "hookyard_store_write_seconds_count") >= 4 + 3  # 4 events stored, 3 attempts recorded
    assert value(m, "hookyard_rule_reloads_total", result="ok") == 1
    assert value(m, "hookyard_rule_reloads_total", result="refused") == 1
    assert len(server.received) == 3
    assert client.get("/api/stats", headers=WEB).json()["breakers"] == {"hook": "open"}
    page = client.get("/ui/deliveries", headers=WEB).text  # the deliveries page says so too
    assert re.search(r"Circuit breaker:\s*<strong>hook</strong> open", page), page

    (startup,) = events(caplog, "startup")
    assert startup["config"] == tmp / "config.yaml"
    assert startup["storage"] == f"sqlite:{tmp}/store/h.db"
    assert (startup["sources"], startup["sinks"], startup["rules"]) == (["fusillade"], ["hook"], 1)
    assert startup["rule_files"] == [str(tmp / "rules.yaml")]
    ids = {run: db.rows("SELECT d.id FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.subject = ?",
                        run)[0][0] for run in expected}  # fmt: skip
    (failed,) = events(caplog, "delivery.failed")
    assert failed == {
        "delivery": ids["run-503"], "sink": "hook", "rule": "every-run", "attempt": 1, "status": 503,
        "reason": "HTTP 503: down for a bit", "next_attempt": failed["next_attempt"],
    }  # fmt: skip
    assert failed["next_attempt"] > "2026-05-28T20:26:40"  # after NOW, ISO 8601 UTC
    (dead,) = events(caplog, "delivery.dead")
    assert dead == {
        "delivery": ids["run-400"], "sink": "hook", "rule": "every-run", "attempts": 1,
        "reason": "HTTP 400: bad token <redacted>",
    }  # fmt: skip
    assert events(caplog, "breaker.open") == [{"sink": "hook", "was": "closed", "failures": 1}]
    rejected = events(caplog, "request.rejected")
    assert rejected == [
        {"source": "fusillade", "status": 401, "code": "signature_mismatch", "client": "testclient"},
        {"source": "nope", "status": 404, "code": "unknown_source", "client": "testclient"},
        {"source": "fusillade", "status": 413, "code": "body_too_large", "client": "testclient"},
    ]
    reloads = events(caplog, "rules.reload")
    assert [(r["result"], r.get("rules"), r.get("problems")) for r in reloads] == [
        ("ok", 1, None),
        ("refused", None, 1),
    ]
    logged = [r.getMessage() for r in caplog.get_records("setup") + caplog.records]
    metrics = client.get("/metrics", headers=WEB).text
    assert_no_secret([*logged, metrics], [FUS_SECRET, SINK_TOKEN, WEB_TOKEN, "whsec_wrong"])


def test_queue_gauges_are_read_from_the_store_at_scrape_time(tmp_path: Path) -> None:
    """No dispatcher here (as in a receiver process): what is due waits, and its age grows with the clock."""
    clock = {"now": NOW}
    (tmp_path / "rules.yaml").write_text(EVERY_RUN_RULES)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_text("http://127.0.0.1:9"))
    config = load_config(cfg)
    app = create_app(config, clock=lambda: clock["now"], deliver=False)
    with TestClient(app) as client:
        assert post(client, body("run-1")) == 202
        clock["now"] = NOW + 5
        assert post(client, body("run-2")) == 202
        m = scrape(client)
        assert (value(m, "hookyard_queue_depth", state="queued"), value(m, "hookyard_oldest_due_age_seconds")) == (2, 5)
        clock["now"] = NOW + 47
        m = scrape(client)
        assert (value(m, "hookyard_queue_depth", state="queued"), value(m, "hookyard_oldest_due_age_seconds")) == (
            2,
            47,
        )
        assert value(m, "hookyard_breaker_state", sink="hook") == 0  # not delivering here: never set
        assert "breakers" not in client.get("/api/stats", headers=WEB).json()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////var/lib/hookyard/h.db", "sqlite:/var/lib/hookyard/h.db"),
        ("postgresql://hook:s3cr3t-pw@db.internal:6543/hookyard", "postgresql:db.internal:6543/hookyard"),
        ("postgres://hook:s3cr3t-pw@db.internal/hookyard?sslmode=require", "postgresql:db.internal:5432/hookyard"),
    ],
)
def test_the_startup_line_names_the_store_without_credentials(url: str, shown: str) -> None:
    assert storage_kind(url) == shown
