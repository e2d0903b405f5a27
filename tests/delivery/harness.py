"""In-process dispatcher harness: a real SQLite file, real sinks talking to real local
servers, a fake clock. ``run(body)`` opens everything, runs ``body(h)`` and closes."""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from receiver.config import DeliveryModel
from receiver.delivery.dispatcher import Dispatcher
from receiver.ids import new_id
from receiver.metrics import Metrics
from receiver.rules import Router
from receiver.sinks import SINKS
from receiver.sinks.client import HttpClient
from receiver.store.base import AttemptRow, DeliveryRow, NewDelivery, NewEvent
from receiver.store.sqlite import SqliteStore
from tests.helpers import FakeClock


class Harness:
    def __init__(
        self,
        tmp: Path,
        clock: Callable[[], float],
        sinks: dict[str, dict[str, Any]],
        *,
        lease_seconds: float = 60.0,
        monotonic: Callable[[], float] | None = None,
        store_class: type[SqliteStore] = SqliteStore,
    ) -> None:
        """``sinks``: sink id → its config entry (``kind`` plus the kind's options)."""
        self.db = tmp / "h.db"
        self.clock = clock
        self.store = store_class(self.db, clock=clock)
        self.metrics = Metrics()
        self.http = HttpClient()
        built, options = {}, {}
        for sid, entry in sinks.items():
            spec = SINKS[entry["kind"]]
            cfg = spec.config.model_validate({k: v for k, v in entry.items() if k != "kind"})
            built[sid] = spec.create(sid, cfg, self.http)
            options[sid] = cfg
        settings = DeliveryModel(lease_seconds=lease_seconds, poll_interval_seconds=0.05)
        self.dispatcher = Dispatcher(
            self.store,
            built,
            options,
            Router(None),
            settings,
            clock=clock,
            monotonic=monotonic or clock,
            rng=random.Random(7),
            metrics=self.metrics,
        )

    async def add(self, sink_id: str, params: dict[str, Any], *, ordering_key: str | None = None) -> str:
        """Store an event with one delivery to ``sink_id``; returns the delivery id."""
        now = self.clock()
        event_id, delivery_id = new_id("evt", now), new_id("dlv", now)
        body = b"{}"
        envelope = {"id": event_id, "type": "run.completed", "data": {}}
        event = NewEvent(
            id=event_id,
            source_id="test",
            kind="generic",
            type="run.completed",
            subject=None,
            received_at=now,
            body=body,
            body_sha256=hashlib.sha256(body).hexdigest(),
            headers={},
            envelope=envelope,
            correlation_id=event_id,
        )
        delivery = NewDelivery(delivery_id, "rule-1", 0, sink_id, None, params, ordering_key=ordering_key)
        await self.store.save_event(event, [delivery])
        return delivery_id

    async def delivery(self, delivery_id: str) -> DeliveryRow:
        row = await self.store.get_delivery(delivery_id)
        assert row is not None
        return row

    async def attempts(self, delivery_id: str) -> list[AttemptRow]:
        return (await self.store.attempts_for([delivery_id]))[delivery_id]

    def sql(self, statement: str, *args: Any) -> None:
        """A direct write to the database file (test setup the daemon has no call for)."""
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            conn.execute(statement, args)
            conn.commit()
        finally:
            conn.close()

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


def run(
    tmp: Path,
    sinks: dict[str, dict[str, Any]],
    body: Callable[[Harness], Awaitable[None]],
    *,
    clock: Callable[[], float] | None = None,
    **options: Any,
) -> None:
    async def main() -> None:
        h = Harness(tmp, clock or FakeClock(), sinks, **options)
        await h.store.open()
        try:
            await body(h)
        finally:
            await h.dispatcher.stop()
            await h.http.aclose()
            await h.store.close()

    asyncio.run(main())
