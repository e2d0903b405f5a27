"""HTTP/1.1 keep-alive load generator (run as its own process by the benchmarks).

Each request carries a unique Fusillade-shaped body signed with the current time, so
the server does the full work (verify, normalize, dedupe lookup, durable insert).
Prints one JSON line: requests, errors, status counts, rps, p50/p99 latency (ms) and,
with ``--server-pid``, the server's CPU time per request while measuring (all its
threads, from /proc; Linux only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from common import fusillade_request


async def worker(
    wid: int,
    args: argparse.Namespace,
    deadline: float,
    lat: list[float],
    status: dict[int, int],
    acked: list[str],
) -> int:
    reader, writer = await asyncio.open_connection(args.host, args.port)
    errors = 0
    n = 0
    secret = args.secret.encode()
    path = args.path
    while time.perf_counter() < deadline:
        # With --lifecycle this connection's runs, each started then completed.
        i = 2 * (wid + (n // 2) * args.connections) + n % 2 if args.lifecycle else wid + n * args.connections
        n += 1
        req = fusillade_request(i, secret, args.host, path, args.run, args.lifecycle)
        t0 = time.perf_counter()
        writer.write(req)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            code = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            errors += 1
            writer.close()
            reader, writer = await asyncio.open_connection(args.host, args.port)
            continue
        lat.append(time.perf_counter() - t0)
        status[code] = status.get(code, 0) + 1
        if code == 202 and args.collect_ids:
            acked.append(json.loads(payload)["event_id"])
    writer.close()
    return errors


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of process ``pid`` so far (all threads), or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


async def main(args: argparse.Namespace) -> None:
    lat: list[float] = []
    status: dict[int, int] = {}
    acked: list[str] = []
    # Warm up (connections, imports, caches) before measuring.
    warm_deadline = time.perf_counter() + args.warmup
    await asyncio.gather(*[worker(w + 10_000_000, args, warm_deadline, [], {}, []) for w in range(args.connections)])
    cpu0 = cpu_seconds(args.server_pid) if args.server_pid else None
    t0 = time.perf_counter()
    deadline = t0 + args.duration
    errors = await asyncio.gather(*[worker(w, args, deadline, lat, status, acked) for w in range(args.connections)])
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_seconds(args.server_pid) if args.server_pid else None
    server_cpu_us = round((cpu1 - cpu0) / len(lat) * 1e6, 1) if cpu0 is not None and cpu1 is not None and lat else None
    lat.sort()

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

    print(
        json.dumps(
            {
                "requests": len(lat),
                "errors": sum(errors),
                "status": status,
                "seconds": round(elapsed, 2),
                "rps": round(len(lat) / elapsed, 1),
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "server_cpu_us": server_cpu_us,
                "acked_ids": acked if args.collect_ids else None,
            }
        )
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/hooks/fusillade")
    p.add_argument("--secret", default="whsec_bench_secret")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--run", default=str(int(time.time() * 1000)))
    p.add_argument("--collect-ids", action="store_true")
    p.add_argument("--lifecycle", action="store_true", help="each run's test.started, then its test.completed")
    p.add_argument("--server-pid", type=int, help="report this process's CPU time per request")
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(args))
