"""The poll engine in-process: a real config file, SQLite file, sinks and rules, a fake clock,
and a fake Fusillade on loopback (``fake_fusillade.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from receiver.config import Config, load_config
from receiver.delivery.limits import TokenBucket
from receiver.metrics import Metrics
from receiver.polling import POLLERS
from receiver.polling.base import PollerSpec
from receiver.polling.engine import PollEngine
from receiver.rules import Router, load_rules_for
from receiver.runtime import build_sinks
from receiver.sinks.client import HttpClient
from receiver.store import Store, open_configured
from receiver.store.base import EventQuery
from receiver.store.polls import NewPoll, PollRow
from tests.helpers import FakeClock
from tests.polling.fake_fusillade import API_KEY, FakeFusillade

WEBHOOK_SECRET = "whsec_poll_hook_3e9a1d"
RULES = """\
rules:
  - name: finished
    match: {platform: fusillade, type: [run.completed, run.failed, run.timed_out]}
    actions:
      - sink: hook
        request: {method: POST, path: /notify, json: {run: "{{ event.subject }}", type: "{{ event.type }}"}}
"""


def config_text(fake_url: str, hook_url: str, api_key: str, polling: str = "", poll: str = "") -> str:
    return (
        "storage: {url: 'sqlite:///data/h.db'}\n"
        "rules: ['rules.yaml']\n"
        f"polling: {{interval_seconds: 15, max_interval_seconds: 120, max_duration_seconds: 3600{polling}}}\n"
        "sources:\n"
        f"  - {{id: fusillade, kind: fusillade, secrets: ['{WEBHOOK_SECRET}'], poll: {{sink: fusillade-api{poll}}}}}\n"
        "sinks:\n"
        f"  - {{id: fusillade-api, kind: fusillade, api_key: '{api_key}', base_url: '{fake_url}', "
        "allow_private: true, timeout_seconds: 1}\n"
        f"  - {{id: hook, kind: http, base_url: '{hook_url}', allow_private: true}}\n"
    )


class Polling:
    def __init__(
        self,
        tmp: Path,
        fake: FakeFusillade,
        hook_url: str,
        clock: FakeClock,
        bucket: TokenBucket | None = None,
        *,
        poll: str = "",
        pollers: Mapping[str, PollerSpec] = POLLERS,
    ) -> None:
        (tmp / "rules.yaml").write_text(RULES)
        path = tmp / "config.yaml"
        path.write_text(config_text(fake.url, hook_url, API_KEY, poll=poll))
        self.pollers = pollers
        self.config: Config = load_config(path)
        self.clock = clock
        self.store: Store = open_configured(self.config, clock=clock)
        self.http = HttpClient()
        self.sinks = build_sinks(self.config, self.http)
        self.metrics = Metrics()
        self.woken = 0
        self.engine = self.new_engine(bucket)

    def new_engine(self, bucket: TokenBucket | None = None) -> PollEngine:
        """An engine as another process (or the restarted one) would run it: its own lease owner."""
        router = Router(load_rules_for(self.config), self.sinks)
        return PollEngine(self.store, self.sinks, lambda: self.config, router, clock=self.clock, metrics=self.metrics,
                          wake=self._wake, buckets=lambda sink_id: bucket, pollers=self.pollers)  # fmt: skip

    def _wake(self) -> None:
        self.woken += 1

    async def __aenter__(self) -> Polling:
        await self.store.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self.store.close()

    async def watch(self, run_id: str) -> None:
        await self.store.add_polls([NewPoll("fusillade", run_id, "fusillade", "fusillade-api", self.clock())])

    async def poll(self) -> int:
        return await self.engine.run_once()

    async def row(self, run_id: str) -> PollRow:
        row = await self.store.get_poll("fusillade", run_id)
        assert row is not None
        return row

    async def events(self) -> list[tuple[str, Any, Any]]:
        """(type, run status, platform_event) of every stored event, oldest first."""
        rows = await self.store.list_events(EventQuery(limit=100))
        return [(e.type, e.envelope["data"]["run"].get("status"), e.envelope["platform_event"]) for e in reversed(rows)]
