from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from click.testing import CliRunner

from receiver.cli.main import main
from tests.helpers import Daemon, FakeClock, assert_no_secret, stripe_header, wait_for
from tests.servers import RecordingServer, Reply, SmtpSink

T = TypeVar("T")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- end-to-end harness: a real `hookyard serve` with its destinations on loopback ------------------

WEBHOOK_SECRET = "whsec_e2e_webhook_secret_1f6c"
FUSILLADE_API_KEY = "fus_e2e_api_key_9d3b2a"
GITHUB_TOKEN = "ghp_e2e_token_77aa41c0"
SLACK_TOKEN = "e2eSlackHookSecret4242"
SECRETS = (WEBHOOK_SECRET, FUSILLADE_API_KEY, GITHUB_TOKEN, SLACK_TOKEN)
SLACK_PATH = f"/services/T0E2E/B0E2E/{SLACK_TOKEN}"
SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules"
# Every Fusillade run.completed to an http sink "hook" at /notify: the rule the process tests share.
EVERY_RUN_RULES = """\
rules:
  - name: every-run
    match: {platform: fusillade, type: run.completed}
    actions:
      - sink: hook
        request: {method: POST, path: /notify, json: {run: "{{ event.subject }}"}}
"""


class Stack:
    """One daemon, its config and SQLite file, plus read-only views of what it stored."""

    def __init__(self, tmp: Path, daemons: list[Daemon]) -> None:
        self.tmp = tmp
        self.daemons = daemons
        self.db = tmp / "data" / "h.db"
        self.config: Path | None = None
        self.daemon: Daemon | None = None
        # One client for every post: a bare httpx.post builds a TLS context (~45 ms of CPU) each time.
        # No keep-alive: tests kill and restart daemon processes under it.
        self.http = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
        # The secrets reach the daemon through the environment, as in production.
        self.env = {
            "FUS_SECRET": WEBHOOK_SECRET,
            "FUS_KEY": FUSILLADE_API_KEY,
            "GH_TOKEN": GITHUB_TOKEN,
            "SLACK_URL": f"https://hooks.slack.com{SLACK_PATH}",
            "NO_PROXY": "*",
        }

    def write(
        self,
        *,
        sinks: str,
        rules: list[str],
        sources: str = "",
        delivery: str = "",
        server: str = "",
        storage: str = "sqlite:///data/h.db",
    ) -> Path:
        """The config; ``sinks``/``sources`` are YAML list items, ``delivery`` extra mapping
        lines, ``server`` the server mapping (flow style), ``storage`` the store URL."""
        default_source = "  - id: fusillade\n    kind: fusillade\n    secrets: ['${FUS_SECRET}']\n"
        text = (
            f"storage: {{url: '{storage}'}}\n"
            + (f"server: {server}\n" if server else "")
            + f"rules: {json.dumps(rules)}\n"
            "delivery:\n  workers: 16\n  poll_interval_seconds: 0.05\n"
            + delivery
            + "sources:\n"
            + (sources or default_source)
            + "sinks:\n"
            + sinks
        )
        self.config = self.tmp / "config.yaml"
        self.config.write_text(text)
        return self.config

    def rule_file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)

    def start(self) -> Daemon:
        assert self.config is not None
        self.daemon = Daemon(self.config, env=self.env).start()
        self.daemons.append(self.daemon)
        return self.daemon

    def post(self, body: bytes, source: str = "fusillade") -> str:
        assert self.daemon is not None
        headers = {
            "X-Fusillade-Signature": stripe_header(WEBHOOK_SECRET, body, int(time.time())),
            "Content-Type": "application/json",
        }
        r = self.http.post(f"{self.daemon.url}/hooks/{source}", content=body, headers=headers)
        assert r.status_code == 202, r.text
        event_id: str = r.json()["event_id"]
        return event_id

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def deliveries(self, where: str = "1", *args: Any) -> list[dict[str, Any]]:
        cols = (
            "id",
            "event_id",
            "rule",
            "sink_id",
            "state",
            "attempts",
            "last_error",
            "params",
            "replay_of",
            "created_at",
            "updated_at",
        )
        rows = self.query(f"SELECT {', '.join(cols)} FROM deliveries WHERE {where} ORDER BY created_at, id", *args)
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        cols = ("number", "started_at", "finished_at", "outcome", "status_code", "error_class", "reason")
        rows = self.query(f"SELECT {', '.join(cols)} FROM attempts WHERE delivery_id = ? ORDER BY number", delivery_id)
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def event(self, event_id: str) -> dict[str, Any]:
        (row,) = self.query(
            "SELECT envelope, parent_id, correlation_id, matched_rules, kind, type FROM events WHERE id = ?", event_id
        )
        return {
            "envelope": json.loads(row[0]),
            "parent_id": row[1],
            "correlation_id": row[2],
            "matched_rules": json.loads(row[3]),
            "kind": row[4],
            "type": row[5],
        }

    def children(self, parent_id: str) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM events WHERE parent_id = ? ORDER BY id", parent_id)]

    def settled(self, where: str = "1", *args: Any, timeout: float = 20) -> list[dict[str, Any]]:
        """The deliveries matching ``where`` once none of them is pending any more."""
        return wait_for(lambda: _all_final(self.deliveries(where, *args)), timeout, lambda: self.logs())

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A ``hookyard`` command against the daemon's config and store, run in-process: a fresh
        interpreter costs ~1.5 s of CPU per command (tests/test_cli_startup.py runs the real one)."""
        assert self.config is not None
        argv = [*args, "--config", str(self.config)]
        done = CliRunner().invoke(main, argv, env=dict(self.env))
        return subprocess.CompletedProcess(argv, done.exit_code, done.stdout, done.stderr)

    def logs(self) -> str:
        return self.daemon.logs() if self.daemon is not None else ""

    def assert_no_secrets(self, *, log: bool = True) -> None:
        """No secret in the daemon log (unless ``log`` is off), any stored row, or what the CLI prints."""
        rows = [
            repr(r)
            for table in ("events", "deliveries", "attempts", "event_keys")
            for r in self.query(f"SELECT * FROM {table}")
        ]
        outputs = []
        for args in (
            ("deliveries", "--json", "--limit", "1000"),
            ("events", "--json", "--limit", "1000"),
            ("deliveries", "--limit", "1000"),
        ):
            done = self.cli(*args)
            assert done.returncode == 0, done.stderr
            outputs += [done.stdout, done.stderr]
        assert len(rows) > 0 and outputs[0]
        assert_no_secret([*rows, *outputs], SECRETS)
        if log:
            assert_no_secret([self.logs()], SECRETS)


FINAL = {"succeeded", "dead", "superseded", "suppressed", "silenced"}


def _all_final(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return rows if rows and all(r["state"] in FINAL for r in rows) else None


@pytest.fixture
def stack(tmp_path: Path, daemons: list[Daemon]) -> Iterator[Stack]:
    s = Stack(tmp_path, daemons)
    yield s
    s.http.close()


@pytest.fixture
def fus_api() -> Iterator[RecordingServer]:
    with RecordingServer() as srv:
        yield srv


@pytest.fixture
def github() -> Iterator[RecordingServer]:
    with RecordingServer() as srv:
        yield srv


@pytest.fixture
def slack() -> Iterator[RecordingServer]:
    with RecordingServer(default=Reply(200, "ok")) as srv:
        yield srv


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink
