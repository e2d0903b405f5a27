"""The delivery log's test bench: a config with one source and two sinks, real signed webhooks.

The secrets reach the config through the environment, as in production, and every
test that renders something checks that none of them shows up in it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from receiver.runtime import Runtime
from receiver.store.base import AttemptRow, DeliveryState, Outcome
from tests.helpers import fusillade_body, stripe_header

T = TypeVar("T")

FUS_SECRET = "whsec_web_fusillade_5e1d"
HOOK_KEY = "hook_key_web_77c2aa"
FUS_KEY = "fus_api_key_web_03b9"
WEB_TOKEN = "web_token_c0ffee_51_0123456789abcdef"
SECRETS = (FUS_SECRET, HOOK_KEY, FUS_KEY, WEB_TOKEN)
ENV = {"FUS_SECRET": FUS_SECRET, "HOOK_KEY": HOOK_KEY, "FUS_KEY": FUS_KEY, "NO_PROXY": "*"}
LOOPBACK = ("127.0.0.1", 50000)
BASE_URL = "http://127.0.0.1:8080"

RULES = """\
rules:
  - name: compare-to-baseline
    match: {type: run.completed}
    actions:
      - sink: fus
        compare: {test_id: "{{ event.subject }}", baseline_id: base-1}
        emit: comparison.completed
  - name: notify-failed
    match: {type: run.failed}
    actions:
      - sink: hook
        request: {method: POST, path: /failed, json: {run: "{{ event.subject }}"}}
  - name: notify-comparison
    match: {type: comparison.completed}
    actions:
      - sink: hook
        request: {method: POST, path: /compared, json: {run: "{{ event.subject }}"}}
"""


def write_config(
    folder: Path,
    *,
    token: bool = False,
    hook_url: str = "http://127.0.0.1:9",
    fus_url: str = "http://127.0.0.1:9",
    poll: float = 0.05,
    web: str = "",
) -> Path:
    """A config in ``folder``; sink URLs default to the discard port (nothing is sent there)."""
    (folder / "rules.yaml").write_text(RULES)
    web = f"web: {{token: '{WEB_TOKEN}'{web}}}\n" if token else ""
    text = (
        "storage: {url: 'sqlite:///data/web.db'}\n"
        "rules: [rules.yaml]\n"
        f"{web}"
        f"delivery: {{workers: 4, poll_interval_seconds: {poll}}}\n"
        "sources:\n"
        "  - id: fusillade\n    kind: fusillade\n    secrets: ['${FUS_SECRET}']\n"
        "sinks:\n"
        f"  - id: hook\n    kind: http\n    base_url: {hook_url}\n    allow_private: true\n"
        "    headers: {Authorization: 'Bearer ${HOOK_KEY}'}\n    max_attempts: 2\n"
        f"  - id: fus\n    kind: fusillade\n    api_key: '${{FUS_KEY}}'\n    base_url: {fus_url}\n"
        "    allow_private: true\n"
    )
    path = folder / "config.yaml"
    path.write_text(text)
    return path


def signed(body: bytes) -> dict[str, str]:
    return {
        "X-Fusillade-Signature": stripe_header(FUS_SECRET, body, int(time.time())),
        "Content-Type": "application/json",
    }


class Bench:
    """One app on a real SQLite file, a loopback TestClient, and the store reachable from the test."""

    def __init__(self, client: TestClient, hy: Runtime) -> None:
        self.client = client
        self.hy = hy
        self.seen: list[str] = []  # every body answered, for the no-secret check

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a store coroutine on the app's own event loop."""
        portal = self.client.portal
        assert portal is not None
        return portal.call(fn, *args)

    def post_event(self, event: str, test_id: str) -> str:
        body = fusillade_body(event, test_id)
        r = self.client.post("/hooks/fusillade", content=body, headers=signed(body))
        assert r.status_code == 202, r.text
        event_id: str = r.json()["event_id"]
        return event_id

    def get(self, path: str, **kw: Any) -> Any:
        r = self.client.get(path, **kw)
        self.seen.append(r.text)
        return r

    def post(self, path: str, **kw: Any) -> Any:
        r = self.client.post(path, **kw)
        self.seen.append(r.text)
        return r

    def delivery_ids(self, event_id: str) -> list[str]:
        rows = self.get(f"/api/events/{event_id}").json()["deliveries"]
        return [d["id"] for d in rows]

    def kill(self, delivery_id: str, reason: str = "http 404: no such endpoint") -> None:
        """Make a queued delivery dead the way the dispatcher does: claim it, record a failed attempt."""
        store: Any = self.hy.store
        now = self.hy.clock()
        claimed = self.call(store.claim_due, now + 3600, 1000, 60.0, "test-worker")
        assert delivery_id in [c.delivery.id for c in claimed]
        for c in claimed:
            if c.delivery.id == delivery_id:
                attempt = AttemptRow(delivery_id, 1, now, now, 12.5, "failed", 404, "http_404", reason, "not found")
                assert self.call(
                    store.finish, delivery_id, "test-worker", Outcome(attempt, DeliveryState.DEAD, None, reason)
                )
            else:  # hand the others back untouched
                assert self.call(store.postpone, c.delivery.id, "test-worker", now)


@contextlib.contextmanager
def open_bench(
    folder: Path,
    *,
    token: bool = False,
    deliver: bool = False,
    hook_url: str = "http://127.0.0.1:9",
    fus_url: str = "http://127.0.0.1:9",
    clock: Callable[[], float] | None = None,
    web: str = "",
) -> Iterator[Bench]:
    """``web``: more ``web:`` options (with ``token``), e.g. ``", metrics_need_token: false"``."""
    config = load_config(write_config(folder, token=token, hook_url=hook_url, fus_url=fus_url, web=web))
    app = create_app(config, deliver=deliver, clock=clock)
    with TestClient(app, base_url=BASE_URL, client=LOOPBACK) as client:
        yield Bench(client, app.state.hookyard)


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def bench(tmp_path: Path, secret_env: None) -> Iterator[Bench]:
    """No token (loopback only), nothing is sent: deliveries stay queued until a test moves them."""
    with open_bench(tmp_path) as b:
        yield b


@pytest.fixture
def token_bench(tmp_path: Path, secret_env: None) -> Iterator[Bench]:
    with open_bench(tmp_path, token=True) as b:
        yield b
