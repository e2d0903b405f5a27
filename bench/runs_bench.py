"""How fast ``GET /api/runs`` and the runs pages answer with 100,000 runs in the store (target: 300 ms).

Fills a fresh SQLite store with ``--runs`` runs (200 tests, 20 branches, pull requests,
every outcome and transition) through the store's own insert statement, starts a real
daemon on it (its own process, loopback, a free port) and times each query shape of the
API: no filter, each filter (all indexed), a filter that matches nothing, and a deep page;
then ``/ui/runs`` (with what each run's events notified) and run pages (with the trend of 50 runs).

Rerun: .venv/bin/python bench/runs_bench.py [--runs 100000] [--requests 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, hookyard_serve, wait_up  # noqa: E402
from receiver import jsonutil  # noqa: E402
from receiver.events import isoformat  # noqa: E402
from receiver.ids import new_id  # noqa: E402
from receiver.runs.model import TRANSITIONS, series_key, verdict  # noqa: E402
from receiver.sources.fields import OUTCOMES  # noqa: E402
from receiver.store.runs import INSERT_RUN, LINK_EVENT, RunRow, run_args  # noqa: E402
from receiver.store.sqlite import SqliteStore  # noqa: E402

CHOICES = [*OUTCOMES, None]  # None: still running


def fake_run(i: int, rng: random.Random, start: float) -> RunRow:
    now = start + i * 60
    name, branch = f"test-{i % 200}", f"branch-{rng.randrange(20)}"
    outcome = rng.choice(CHOICES)
    final = outcome is not None
    return RunRow(
        key=new_id("run", now), source_id="fusillade", run_id=f"t-{i}", platform=rng.choice(["fusillade", "bug0"]),
        name=name, project=None, status="completed" if final else "running", outcome=outcome, url=None,
        started_at=isoformat(now - 60), finished_at=isoformat(now) if final else None, duration_ms=60000.0,
        repo="acme/shop", sha=f"{rng.getrandbits(40):010x}", branch=branch, pr=rng.randrange(1, 5000),
        metrics={"p95_latency_ms": rng.uniform(100, 900)}, counts=None, final=final, event_time=now,
        ended_at=now if final else None, verdict=verdict(outcome) if final else None,
        test_key=series_key("fusillade", name, None), previous_key=None,
        transition=rng.choice(TRANSITIONS) if verdict(outcome) else None, first_event_id=new_id("evt", now),
        last_event_id=new_id("evt", now), trigger_event_id=None, trigger_delivery_id=None, created_at=now,
        updated_at=now,
    )  # fmt: skip


async def fill(db: Path, n: int) -> list[str]:
    store = SqliteStore(db)
    await store.open()
    rng = random.Random(13)
    rows = [run_args(fake_run(i, rng, 1_770_000_000.0), jsonutil.dumps) for i in range(n)]
    # Two events per run (started, completed): the runs page looks up what they notified.
    links = [(r[0], new_id("evt", 1_770_000_000.0 + i * 60 + half)) for i, r in enumerate(rows) for half in (0, 30)]

    def insert(conn: Any) -> None:
        conn.executemany(INSERT_RUN, rows)
        conn.executemany(LINK_EVENT, links)

    try:
        await store.write(insert)
    finally:
        await store.close()
    return sorted(str(r[0]) for r in rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=20, help="per query shape")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hookyard-runs-bench-"))
    t0 = time.perf_counter()
    keys = asyncio.run(fill(work / "runs.db", args.runs))
    print(f"filled {args.runs} runs in {time.perf_counter() - t0:.1f} s")
    config = work / "config.yaml"
    config.write_text(f"storage: {{url: 'sqlite:///{work}/runs.db'}}\nrules: []\nsources: []\n")
    port = free_port()
    proc = subprocess.Popen(hookyard_serve(str(config), port), cwd=ROOT)
    queries = {
        "no filter": "",
        "name": "?name=test-7",
        "branch": "?branch=branch-3",
        "pr": "?pr=4242",
        "outcome": "?outcome=errored",
        "transition": "?transition=broken",
        "platform": "?platform=bug0",
        "name + branch + outcome": "?name=test-7&branch=branch-3&outcome=failed",
        "matches nothing": "?name=no-such-test",
        "deep page (before the median key)": f"?before={keys[len(keys) // 2]}",
        "500 per page": "?limit=500",
    }
    worst = 0.0
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            print(f"command: .venv/bin/python bench/runs_bench.py --runs {args.runs} --requests {args.requests}")
            print(f"{'GET /api/runs':38} {'p50 ms':>8} {'max ms':>8}  runs")
            client.get("/api/runs").raise_for_status()  # warm up: the first request opens the reader
            for label, query in queries.items():
                times = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    r = client.get("/api/runs" + query)
                    times.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                worst = max(worst, max(times))
                print(f"  {label:36} {statistics.median(times):8.1f} {max(times):8.1f}  {len(r.json()['runs'])}")
            pages = {
                "/ui/runs": "/ui/runs",
                "/ui/runs?name=test-7&branch=branch-3": "/ui/runs?name=test-7&branch=branch-3",
                "/ui/runs deep page": f"/ui/runs?before={keys[len(keys) // 2]}",
                "/ui/runs/{key} (newest, trend of 50)": f"/ui/runs/{keys[-1]}",
                "/ui/runs/{key} (median)": f"/ui/runs/{keys[len(keys) // 2]}",
            }
            print(f"{'pages':38} {'p50 ms':>8} {'max ms':>8}  bytes")
            for label, path in pages.items():
                times = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    r = client.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                worst = max(worst, max(times))
                print(f"  {label:36} {statistics.median(times):8.1f} {max(times):8.1f}  {len(r.content)}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"slowest answer {worst:.1f} ms (target 300 ms): {'ok' if worst <= 300 else 'OVER'}")


if __name__ == "__main__":
    main()
