"""Retention on SQLite: how long one pruning batch holds the writer, how long a pass takes, what
ingest waits meanwhile, and how much of the file comes back.

Fills a fresh SQLite store with ``--events`` events 60 days old (a ~2 KB body, two redelivery
keys, a succeeded delivery and one attempt each) plus young ones, then runs one pruner pass
(receiver/pruner.py, default policy, ``--batch`` rows per batch) while a writer stores a young
event every 2 ms, as webhooks would arrive. Reported: the time each batch ran inside the
group-commit writer (the event loop is busy for that long), the pass, the save latency of the
concurrent events before and during the pass, and the file size before and after.

Rerun: .venv/bin/python bench/retention_bench.py [--events 20000] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from receiver.config import RetentionModel  # noqa: E402
from receiver.ids import new_id  # noqa: E402
from receiver.pruner import Pruner  # noqa: E402
from receiver.store import retention  # noqa: E402
from receiver.store.base import DeliveryState, NewDelivery, NewEvent  # noqa: E402
from receiver.store.sqlite import SqliteStore  # noqa: E402

DAY = 86_400.0


def new_event(at: float, n: int) -> NewEvent:
    body = os.urandom(1000).hex().encode()
    eid = new_id("evt", at)
    return NewEvent(
        id=eid, source_id="fusillade", kind="fusillade", type="run.completed", subject=f"run-{n}", received_at=at,
        body=body, body_sha256=hashlib.sha256(body).hexdigest(), headers={"content-type": "application/json"},
        envelope={"id": eid, "type": "run.completed", "data": {"run": {"id": f"run-{n}", "outcome": "passed"}}},
        correlation_id=eid, dedupe_keys=(f"id:{eid}", f"sig:{eid}"),
    )  # fmt: skip


def delivery(n: int, state: DeliveryState) -> NewDelivery:
    return NewDelivery(id=new_id("dlv"), rule="notify", action_index=0, sink_id="slack", emit=None,
                       params={"text": f"run {n}"}, state=state)  # fmt: skip


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def fill(store: SqliteStore, count: int, at: float) -> None:
    for start in range(0, count, 256):
        events = [new_event(at + i, i) for i in range(start, min(count, start + 256))]
        done = [delivery(i, DeliveryState.SUCCEEDED) for i in range(len(events))]
        await asyncio.gather(*(store.save_event(e, [d]) for e, d in zip(events, done, strict=True)))
        # One attempt per delivery, in one go (the dispatcher would record them one by one).
        ids = [d.id for d in done]
        await store.write(lambda c, ids=ids: c.executemany(  # type: ignore[misc]
            "INSERT INTO attempts (delivery_id, number, started_at, finished_at, duration_ms, outcome) "
            "VALUES (?, 1, 0, 0, 12.5, 'succeeded')", [(i,) for i in ids]
        ))  # fmt: skip


async def arrivals(store: SqliteStore, now: float, latencies: list[float], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        started = time.perf_counter()
        await store.save_event(new_event(now, n), [delivery(n, DeliveryState.QUEUED)])
        latencies.append(time.perf_counter() - started)
        n += 1
        await asyncio.sleep(0.002)


async def main(events: int, batch: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hookyard-retention-"))
    path = folder / "h.db"
    now = time.time()
    store = SqliteStore(path)
    await store.open()
    await fill(store, events, now - 60 * DAY)
    await fill(store, events // 10, now - DAY)
    await store.close()
    size_before = os.path.getsize(path)

    batch_seconds: list[float] = []
    timed = retention._sqlite_prune_events

    def timing(conn, before, limit):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return timed(conn, before, limit)
        finally:
            batch_seconds.append(time.perf_counter() - started)

    retention._sqlite_prune_events = timing  # type: ignore[assignment]
    store = SqliteStore(path)
    await store.open()
    baseline: list[float] = []
    stop = asyncio.Event()
    writer = asyncio.create_task(arrivals(store, now, baseline, stop))
    await asyncio.sleep(2.0)
    stop.set()
    await writer
    during: list[float] = []
    stop = asyncio.Event()
    writer = asyncio.create_task(arrivals(store, now, during, stop))
    started = time.perf_counter()
    pruned = await Pruner(store, RetentionModel(batch_size=batch)).run_pass()
    pass_seconds = time.perf_counter() - started
    stop.set()
    await writer
    await store.close()
    size_after = os.path.getsize(path)

    ms = [s * 1000 for s in batch_seconds]
    print(f"{events} old events, batch {batch}: {len(ms)} batches; pruned {dict(sorted(pruned.items()))}")
    print(f"batch inside the writer: p50 {statistics.median(ms):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, "
          f"max {max(ms):.1f} ms")  # fmt: skip
    print(f"pass: {pass_seconds:.1f} s ({pruned['events'] / pass_seconds:,.0f} events/s, reclaim included)")
    for name, lat in (("before the pass", baseline), ("during the pass", during)):
        lat_ms = [s * 1000 for s in lat]
        print(f"save_event {name}: n={len(lat_ms)} p50 {statistics.median(lat_ms):.1f} ms, "
              f"p99 {pct(lat_ms, 0.99):.1f} ms, max {max(lat_ms):.1f} ms")  # fmt: skip
    print(f"file: {size_before / 1e6:.1f} MB -> {size_after / 1e6:.1f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch))
