"""Hostile-input benchmark: does a flood of bad clients keep real webhooks from their 202?

Starts the real ``hookyard serve`` with the shipped server limits, then:
1. holds 300 idle connections, 20 trickling ones (a byte of request head every 0.5 s) and
   2 oversized-header streams open (``bench/flood.py``; closed ones are opened again), and
   meanwhile sends 200 signed webhooks, each on a new connection, 4 at a time: prints their
   p50/p99 latency and how many were not answered 202 (target: all 202, p99 under 1 s);
2. with the flood still on, sends >= 10,000 malformed and signed-pathological requests
   (broken HTTP, oversized or too many headers, bad signatures, and validly signed bodies
   nested 100,000 deep, with lone surrogates, 5,000-digit integers, NaN, binary, ...):
   prints how many were answered 5xx (target 0) and the server's RSS before and after.

Rerun: .venv/bin/python bench/hostile.py [--webhooks 200] [--bad 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from common import free_port, hookyard_serve, signed_fusillade, wait_up
from flood import Flood

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"whsec_bench_hostile"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def signed_request(body: bytes) -> bytes:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /hooks/fusillade HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Fusillade-Signature: t={ts},v1={mac}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


DEEP = b"[" * 100_000 + b"]" * 100_000
BROKEN = [
    b"\x00\x01\x02 garbage\r\n\r\n",
    b"POST /hooks/fusillade HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n{}",
    b"POST /hooks/fusillade HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST /hooks/fusillade HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
    b"POST /hooks/fusillade HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nX-Fusillade-Signature: t=1,v1=00\r\n\r\n{}",
    b"POST /hooks/nope HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /hooks/fusillade HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n{",
    b"GET /api/events/%ff%fe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
]


def signed_bodies(tag: bytes) -> list[bytes]:
    """Validly signed bodies no parser or store likes; ``tag`` keeps each unique (no dedupe)."""
    fus = b'{"event": "test.completed", "data": {"test_id": ' + tag
    return [
        fus + b', "n": ' + DEEP + b"}}",
        b'{"event": "test.completed", "data": {"test_id": "\\ud800' + tag[1:] + b"}}",
        fus + b', "workers": ' + b"9" * 5000 + b"}}",
        fus + b', "error_rate": NaN, "name": "\\udfff"}}',
        b"\xff\xfe binary " + tag,
        fus + b', "name": "a\\u0000b"}}',
        b"",
    ]


def pathological(i: int) -> bytes:
    """The i-th hostile request: broken HTTP, a bad signature, or a validly signed pathological body."""
    bodies = signed_bodies(f'"bench-{i}"'.encode())
    k = i % (len(BROKEN) + len(bodies))
    return BROKEN[k] if k < len(BROKEN) else signed_request(bodies[k - len(BROKEN)])


async def exchange(port: int, request: bytes) -> int | None:
    """One request on its own connection: the status, or None when the server closed without one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        return int(head[9:12])
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        return None
    finally:
        writer.close()


async def send_all(port: int, requests: Iterable[bytes], concurrency: int) -> tuple[Counter[int | None], list[float]]:
    statuses: Counter[int | None] = Counter()
    latencies: list[float] = []
    queue = iter(requests)

    async def worker() -> None:
        for request in queue:
            t0 = time.perf_counter()
            statuses[await exchange(port, request)] += 1
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses, sorted(latencies)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--webhooks", type=int, default=200)
    p.add_argument("--bad", type=int, default=10_000)
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hookyard-hostile-"))
    cfg = work / "config.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{work}/bench.db'}}\nrules: []\ndelivery: {{workers: 0}}\n"
        f"sources:\n  - id: fusillade\n    kind: fusillade\n    secrets: ['{SECRET.decode()}']\n"
    )
    port = free_port()
    proc = subprocess.Popen(hookyard_serve(str(cfg), port), cwd=ROOT)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", proc)
        rss_before = rss_mb(proc.pid)
        with Flood("127.0.0.1", port, idle=300, trickle=20, oversized=2) as flood:
            deadline = time.monotonic() + 30
            while flood.open("idle") < 300 and time.monotonic() < deadline:
                time.sleep(0.1)
            open_now = {k: flood.open(k) for k in ("idle", "trickle", "oversized")}
            run = str(int(time.time() * 1000))
            hooks = []
            for i in range(args.webhooks):
                body, signature = signed_fusillade(i, SECRET, run)
                head = (
                    f"POST /hooks/fusillade HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    f"X-Fusillade-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                hooks.append(head.encode() + body)
            statuses, latencies = asyncio.run(send_all(port, hooks, 4))
            t0 = time.perf_counter()
            bad_statuses, _ = asyncio.run(send_all(port, (pathological(i) for i in range(args.bad)), 8))
            bad_seconds = time.perf_counter() - t0
            rss_after = rss_mb(proc.pid)
            flood_ended = dict(flood.ended)
        still_up = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait()

    not_202 = sum(n for status, n in statuses.items() if status != 202)
    five_xx = sum(n for status, n in bad_statuses.items() if status is not None and status >= 500)
    print(f"command: .venv/bin/python bench/hostile.py --webhooks {args.webhooks} --bad {args.bad}")
    ended = json.dumps({"/".join(k): v for k, v in flood_ended.items()})
    print(f"flood     open at start: {open_now}; ended meanwhile (kind/answer): {ended}")
    print(
        f"webhooks  {args.webhooks} signed, new connection each, 4 at a time: p50 {pct(latencies, 0.5):.1f} ms  "
        f"p99 {pct(latencies, 0.99):.1f} ms  max {latencies[-1] * 1000:.1f} ms  not 202: {not_202} "
        f"(target: 0 and p99 < 1000 ms)"
    )
    shown = {str(k): v for k, v in sorted(bad_statuses.items(), key=lambda kv: str(kv[0]))}
    print(
        f"hostile   {args.bad} malformed / signed-pathological requests in {bad_seconds:.1f} s: 5xx {five_xx} "
        f"(target 0); answers {shown} (None: closed without an answer)"
    )
    print(f"memory    server RSS {rss_before:.1f} MB before, {rss_after:.1f} MB after; still running: {still_up}")


if __name__ == "__main__":
    main()
