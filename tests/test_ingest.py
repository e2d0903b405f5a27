"""Validly signed but pathological bodies are stored (never a 500), and every stored event reads back.

Real stores (a SQLite file and a PostgreSQL server), the real app in process, and the three
readers a user has: ``/api/events/{id}``, the event page and ``hookyard events --json``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.cli.main import main
from receiver.config import load_config
from tests.helpers import assert_no_secret, stripe_header
from tests.pg import PostgresServer

NOW = 1735689600
FUS_SECRET = "whsec_pathological_fus_8d1e"
CI_SECRET = "ci_pathological_secret_42aa"
LOOPBACK = ("127.0.0.1", 50000)

CONFIG = f"""
storage: {{url: "{{url}}"}}
rules: []
sources:
  - {{id: fusillade, kind: fusillade, secrets: ["{FUS_SECRET}"]}}
  - id: ci
    kind: generic
    verify: {{scheme: hmac, header: X-Signature, algorithm: sha256, encoding: hex}}
    secrets: ["{CI_SECRET}"]
    normalize:
      type: {{path: status, map: {{success: run.completed}}}}
      subject: build.id
      data.metrics.queue_ms: stats.queue_ms
"""


def fusillade(data: str) -> bytes:
    return ('{"event": "test.completed", "timestamp": "2026-02-06T12:00:00Z", "data": ' + data + "}").encode()


DEEP = "[" * 100_000 + "]" * 100_000

# (source, body, stored type, subject, a phrase the normalize_error must contain)
CASES = [
    ("fusillade", fusillade('{"test_id": "t-1", "name": ' + DEEP + "}"), "fusillade.unknown", None, "too deeply"),
    ("fusillade", fusillade('{"test_id": "t\\ud800", "name": "n"}'), "run.completed", "t\ufffd", "subject: unpaired"),
    ("fusillade", fusillade('{"test_id": "t-3", "workers": ' + "9" * 5000 + "}"), "fusillade.unknown", None, "4300"),
    ("fusillade", fusillade('{"test_id": "t-4", "name": "\\udfff", "error_rate": NaN}'), "run.completed", "t-4", ""),
    ("ci", b'{"status": "success", "build": {"id": "b\\udc00"}}', "run.completed", "b\ufffd", "subject: unpaired"),
    ("ci", b'{"status": "success", "build": {"id": "b-2"}, "stats": {"queue_ms": Infinity}}', "run.completed", "b-2",
     "queue_ms"),
    ("ci", ('{"status": "success", "build": {"id": "b-3"}, "x": ' + "[" * 900 + "]" * 900 + "}").encode(),
     "run.completed", "b-3", ""),
]  # fmt: skip


def signed(source: str, body: bytes) -> dict[str, str]:
    if source == "fusillade":
        return {"X-Fusillade-Signature": stripe_header(FUS_SECRET, body, NOW)}
    return {"X-Signature": hmac.new(CI_SECRET.encode(), body, hashlib.sha256).hexdigest()}


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(params=["sqlite", "postgresql"])
def config_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "sqlite":
        url = "sqlite:///events.db"
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        url = server.new_database()
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("{url}", url))
    return path


@pytest.fixture
def client(config_path: Path) -> Iterator[TestClient]:
    app = create_app(load_config(config_path), clock=lambda: NOW)
    with TestClient(app, base_url="http://127.0.0.1:8080", client=LOOPBACK) as c:
        yield c


def read_everywhere(client: TestClient, config_path: Path, event_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each event through the API, the page and the CLI; every answer strict JSON / a page."""
    seen: list[str] = []
    by_id = {}
    for event_id in event_ids:
        api = client.get(f"/api/events/{event_id}")
        assert api.status_code == 200, api.text
        by_id[event_id] = strict(api.text)
        page = client.get(f"/ui/events/{event_id}")
        assert page.status_code == 200, page.text[:300]
        assert event_id in page.text
        seen += [api.text, page.text]
    listing = client.get("/api/events?limit=100")
    assert listing.status_code == 200
    assert {e["id"] for e in strict(listing.text)["events"]} >= set(event_ids)
    result = CliRunner().invoke(main, ["events", "--json", "--limit", "100", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    lines = [strict(line) for line in result.stdout.splitlines()]
    assert {line["id"] for line in lines} >= set(event_ids)
    assert_no_secret([*seen, result.stdout], [FUS_SECRET, CI_SECRET])
    return by_id


def test_pathological_bodies_are_stored_and_readable(client: TestClient, config_path: Path) -> None:
    ids = []
    for source, body, _, _, _ in CASES:
        r = client.post(f"/hooks/{source}", content=body, headers=signed(source, body))
        assert r.status_code == 202, (source, body[:80], r.text)
        ids.append(r.json()["event_id"])
    shown = read_everywhere(client, config_path, ids)
    for event_id, (_, body, type_, subject, error) in zip(ids, CASES, strict=True):
        event = shown[event_id]["event"]
        assert (event["type"], event["subject"]) == (type_, subject), body[:80]
        assert error in (event["normalize_error"] or ""), event["normalize_error"]
        assert event["body_size"] == len(body)  # the verified body itself is kept, byte for byte


# What an earlier version could leave in a SQLite envelope column (json.dumps fallback).
STORED = [
    ('{"x": NaN}', "data.x: NaN is not JSON"),
    ('{"x": [-Infinity]}', "data.x.0: -Infinity is not JSON"),
    ('{"x": "\\ud800"}', "data.x: unpaired surrogate shown escaped"),
    ('{"x": ' + "[" * 600 + "]" * 600 + "}", "levels: not shown"),
]


@pytest.mark.parametrize(("data", "note"), STORED)
def test_stored_events_that_hold_what_json_cannot_are_shown_escaped(tmp_path: Path, data: str, note: str) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(CONFIG.replace("{url}", "sqlite:///events.db"))
    app = create_app(load_config(config_path), clock=lambda: NOW)
    with TestClient(app, base_url="http://127.0.0.1:8080", client=LOOPBACK) as client:
        bodies = [fusillade('{"test_id": "ok-1"}'), fusillade('{"test_id": "bad"}'), fusillade('{"test_id": "ok-2"}')]
        ids = [client.post("/hooks/fusillade", content=b, headers=signed("fusillade", b)).json()["event_id"]
               for b in bodies]  # fmt: skip
        with sqlite3.connect(tmp_path / "events.db") as db:
            (envelope,) = db.execute("SELECT envelope FROM events WHERE id = ?", (ids[1],)).fetchone()
            envelope = envelope.replace('"data":{', '"data":{"x":' + data[len('{"x": ') : -1] + ",", 1)
            db.execute("UPDATE events SET envelope = ? WHERE id = ?", (envelope, ids[1]))
        shown = read_everywhere(client, config_path, ids)  # the CLI lists the events after it too
        # The notes are part of the event's API model (render_notes), so the answer still validates.
        notes = shown[ids[1]]["event"]["render_notes"]
        assert any(n.startswith("envelope.") and note in n for n in notes), notes
        assert shown[ids[0]]["event"]["render_notes"] is None
        page = client.get(f"/ui/events/{ids[1]}").text
        assert note.split(": ")[-1].split(" (")[0] in page
