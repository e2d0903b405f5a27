"""Retention of the side tables on SQLite: what one batch costs the writer for deployments,
notify_log and silences (receiver/store/retention_side.py).

Fills a fresh SQLite store with ``--rows`` rows per table (deployments spread over 200
repositories and 3 environments, half of them 60 days old; notify_log keys half sent 60 days
ago; silences half ended 60 days ago), then prunes each table with the default horizon in
batches of ``--batch`` and reports each batch's time inside the writer (p50 and max), and the
time of a batch that finds nothing left (what every later pass pays: these tables have no
index on their age, so that batch reads the whole table).

Rerun: .venv/bin/python bench/retention_side_bench.py [--rows 50000] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from receiver.store.retention import retention_ops  # noqa: E402
from receiver.store.retention_side import SIDE_TABLES  # noqa: E402
from receiver.store.sqlite import SqliteStore  # noqa: E402

DAY = 86_400.0
NOW = 1_800_000_000.0


def fill(conn: sqlite3.Connection, n: int) -> None:
    def age(i: int) -> float:
        return NOW - (60 * DAY if i % 2 else DAY) + i  # every other row is old

    conn.executemany(
        "INSERT INTO deployments VALUES (?, ?, ?, ?, 'main', 'main', ?)",
        ((f"evt_{i:08}", f"acme/repo{i % 200}", ("production", "staging", None)[i % 3], f"sha{i}", age(i))
         for i in range(n)),
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO notify_log (rule, action_index, group_key, delivery_id, content_sha256, sent_at) "
        "VALUES ('nightly', 0, ?, ?, 'aaa', ?)",
        ((f'["run-{i}"]', f"dlv_{i:08}", age(i)) for i in range(n)),
    )
    conn.executemany(
        "INSERT INTO silences VALUES (?, '[\"source=ci\"]', ?, ?, 'down', 'bench', ?, NULL)",
        ((f"sil_{i:08}", age(i) - 3600, age(i), age(i) - 3600) for i in range(n)),
    )


async def main(rows: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        await store.open()
        try:
            await store.write(lambda c: fill(c, rows))
            ops = retention_ops(store)
            before = NOW - 30 * DAY
            print(f"{rows} rows per table, batches of {batch}, horizon 30 days")
            for table in SIDE_TABLES:
                times: list[float] = []
                total = 0
                while True:
                    started = time.perf_counter()
                    n = (await ops.prune_side(table, before, batch))[table]
                    times.append(time.perf_counter() - started)
                    total += n
                    if n < batch:
                        break
                idle = times[-1]
                busy = times[:-1] or times
                print(
                    f"{table:12} pruned {total:6}: batch p50 {statistics.median(busy) * 1000:6.1f} ms, "
                    f"max {max(busy) * 1000:6.1f} ms; a batch with nothing left {idle * 1000:6.1f} ms"
                )
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.batch))
