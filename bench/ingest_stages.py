"""Where the CPU of one webhook goes, stage by stage, in process (no HTTP server).

Complements bench/ingest_bench.py, which measures the whole server over HTTP: this
script runs the same signed Fusillade requests through the real pieces the ``POST
/hooks/{source}`` route uses (the config's verifier and adapter, the router, a real
SQLite store with group commit and fsync) and reports the time per request of each
stage on the event-loop thread, then the whole ASGI app against the ceiling's ASGI app
(bench/ceiling_app.py) called the same way. Stores and apps run 64 requests at a time,
as 64 connections would. The stages before the store are timed with ``perf_counter``
(they never wait); the store and the apps with ``time.thread_time``, the CPU of this
thread only, so the fsync worker thread and the waiting for it do not count.
The store figure includes asyncio's cost of running 64 waiting tasks.

Rerun: .venv/bin/python bench/ingest_stages.py [--requests 6400] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ceiling_app import app as ceiling_app  # noqa: E402
from bench.common import signed_fusillade  # noqa: E402
from receiver.app import create_app  # noqa: E402
from receiver.config import load_config  # noqa: E402
from receiver.events import new_event  # noqa: E402
from receiver.ingest import dedupe_keys  # noqa: E402
from receiver.rules.plan import Router  # noqa: E402
from receiver.runs import track as runs  # noqa: E402
from receiver.sources.base import safe_normalize  # noqa: E402
from receiver.store.base import NewEvent  # noqa: E402
from receiver.store.sqlite import SqliteStore  # noqa: E402
from receiver.verify.base import RawRequest  # noqa: E402

SECRET = b"whsec_bench_secret"
BATCH = 64
Headers = list[tuple[bytes, bytes]]


def signed(i: int) -> tuple[bytes, Headers]:
    """A unique ``test.completed`` body and its headers, as bench/loadgen.py sends them."""
    body, signature = signed_fusillade(i, SECRET, "stage")
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"x-fusillade-signature", signature.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    return body, headers


async def stages(config_path: Path, db: Path, n: int, base: int) -> Counter[str]:
    """Seconds spent in each stage of ``Ingest.receive``, summed over ``n`` requests."""
    cfg = load_config(config_path)
    src = cfg.sources["fusillade"]
    router = Router(None)
    store = SqliteStore(db)
    await store.open()
    cost: Counter[str] = Counter()
    clock = time.perf_counter
    try:
        for start in range(base, base + n, BATCH):
            events: list[NewEvent] = []
            for body, raw_headers in (signed(i) for i in range(start, start + BATCH)):
                t0 = clock()
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
                req = RawRequest(body=body, headers=headers, path="/hooks/fusillade")
                t1 = clock()
                now = time.time()
                verified = src.verifier.verify(req, now)
                t2 = clock()
                normalized = safe_normalize(src.adapter, req)
                t3 = clock()
                keys = dedupe_keys(src, req, verified)
                t4 = clock()
                events.append(
                    new_event(
                        normalized, source_id=src.id, kind=src.kind, received_at=now, body=body, headers=headers,
                        private_headers=src.private_headers, dedupe_keys=keys, dedupe_window=src.dedupe_window,
                    )
                )  # fmt: skip
                t5 = clock()
                cost["headers + request"] += t1 - t0
                cost["verify (HMAC)"] += t2 - t1
                cost["normalize"] += t3 - t2
                cost["dedupe keys"] += t4 - t3
                cost["id + envelope + row (new_event)"] += t5 - t4
            t6 = time.thread_time()
            # As ingest does: the run is merged and the event routed inside the store's transaction.
            await asyncio.gather(*(runs.save(store, e, router.plan, e.received_at) for e in events))
            cost["run + route + insert + commit (CPU)"] += time.thread_time() - t6
    finally:
        await store.close()
    return cost


Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


async def asgi_call(app: App, body: bytes, headers: Headers) -> int:
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/hooks/fusillade", "raw_path": b"/hooks/fusillade",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080), "root_path": "",
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)  # the client never disconnects here
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def app_cost(app: App, n: int, base: int) -> float:
    """CPU µs per request of a whole ASGI app, 64 requests at a time."""
    spent = 0.0
    for start in range(base, base + n, BATCH):
        batch = [signed(i) for i in range(start, start + BATCH)]
        t0 = time.thread_time()
        codes = await asyncio.gather(*(asgi_call(app, *r) for r in batch))
        spent += time.thread_time() - t0
        if set(codes) != {202}:
            raise SystemExit(f"unexpected status codes: {sorted(set(codes))}")
    return spent / n * 1e6


async def whole_apps(config_path: Path, n: int, repeat: int) -> dict[str, float]:
    hookyard = create_app(load_config(config_path), deliver=False)
    best: dict[str, float] = {}
    async with hookyard.router.lifespan_context(hookyard):
        await app_cost(hookyard, BATCH * 4, 10**9)  # warm up
        for r in range(repeat):
            for name, app in (("ceiling app", ceiling_app), ("hookyard app", hookyard)):
                us = await app_cost(app, n, (r + 1) * 10**7)
                best[name] = min(best.get(name, us), us)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=6400)
    p.add_argument("--repeat", type=int, default=3, help="runs; the best (least CPU) is shown")
    args = p.parse_args()
    n = max(BATCH, args.requests // BATCH * BATCH)

    work = Path(tempfile.mkdtemp(prefix="hookyard-stages-"))
    config_path = work / "config.yaml"
    config_path.write_text(
        f"storage: {{url: 'sqlite:///{work}/app.db'}}\nrules: []\ndelivery: {{workers: 0}}\n"
        f"sources:\n  - id: fusillade\n    kind: fusillade\n    secrets: ['{SECRET.decode()}']\n"
    )
    best: Counter[str] | None = None
    for r in range(args.repeat):
        cost = asyncio.run(stages(config_path, work / f"stages{r}.db", n, r * 10**6))
        if best is None or sum(cost.values()) < sum(best.values()):
            best = cost
    assert best is not None
    apps = asyncio.run(whole_apps(config_path, n, args.repeat))

    print(f"command: .venv/bin/python bench/ingest_stages.py --requests {n} --repeat {args.repeat}")
    print(f"Event-loop thread, per request, {n} requests, {BATCH} at a time (best of {args.repeat} runs):")
    for stage, seconds in best.items():
        print(f"  {stage:36} {seconds / n * 1e6:7.1f} µs")
    print(f"  {'sum of the stages':36} {sum(best.values()) / n * 1e6:7.1f} µs")
    for name, us in apps.items():
        print(f"{name:38} {us:7.1f} µs per request (ASGI call, no HTTP server)")


if __name__ == "__main__":
    main()
