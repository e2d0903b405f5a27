"""Benchmark the delivery log's event filters (``list_events``) on a SQLite store of N events.

Run from the repository root:  .venv/bin/python bench/event_filters_bench.py [--events 50000]
Fills ``/tmp/hookyard-filters-N.db`` once (half failed runs, one delivery each: a tenth dead),
then prints the wall time of one page (50 rows) per filter. A filter that matches nothing
scans every event: that row is the worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time

from receiver.store.base import DeliveryState, EventQuery, NewDelivery, NewEvent
from receiver.store.sqlite import SqliteStore

QUERIES = {
    "no filter": EventQuery(),
    "type=run.*": EventQuery(type="run.*"),
    "outcome=failed": EventQuery(outcome="failed"),
    "outcome=failed&delivery=not_succeeded": EventQuery(outcome="failed", delivery="not_succeeded"),
    "sink=hook&delivery=dead": EventQuery(sink="hook", delivery="dead"),
    "delivery=none (matches nothing: a full scan)": EventQuery(delivery="none"),
}


def event(i: int) -> tuple[NewEvent, NewDelivery]:
    failed = i % 2 == 0
    body = b'{"i": %d}' % i
    ev = NewEvent(
        id=f"evt_{i:012d}", source_id="fus", kind="fusillade", type="run.failed" if failed else "run.completed",
        subject=f"run-{i}", received_at=1000.0 + i, body=body, body_sha256=hashlib.sha256(body).hexdigest(),
        headers={}, envelope={"data": {"run": {"name": "n", "outcome": "failed" if failed else "passed"}}},
        correlation_id=f"evt_{i:012d}",
    )  # fmt: skip
    state = DeliveryState.DEAD if i % 10 == 0 else DeliveryState.SUCCEEDED
    return ev, NewDelivery(f"dlv_{i:012d}", "r", 0, "hook" if failed else "slack", None, {}, state=state)


async def main(n: int) -> None:
    store = SqliteStore(f"/tmp/hookyard-filters-{n}.db")
    await store.open()
    try:
        for i in range(await store.count_events(), n):
            ev, d = event(i)
            await store.save_event(ev, [d])
        for label, query in QUERIES.items():
            t = time.perf_counter()
            rows = await store.list_events(query)
            await store.event_delivery_states([r.id for r in rows])
            print(f"{label:46s} {len(rows):3d} rows {(time.perf_counter() - t) * 1000:8.1f} ms")
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50000)
    asyncio.run(main(parser.parse_args().events))
