"""Delivery benchmark: webhooks in → one ``http`` delivery each → a fast local destination.

Three processes: the real ``hookyard serve`` (SQLite, synchronous=FULL) with one rule
routing every Fusillade ``run.completed`` to an ``http`` sink; a raw asyncio HTTP server
as the destination, recording the arrival time of each ``Idempotency-Key`` (the
delivery id); and a sender posting N signed webhooks over keep-alive connections.
The run ends when every delivery is ``succeeded``. Prints deliveries/s end to end
(first webhook sent → last delivery arrived) and for the dispatch phase (first → last
arrival) and after the last webhook was acknowledged (drain), the lag from receipt to
arrival (p50/p99), and duplicates/missing.

Rerun: .venv/bin/python bench/delivery_bench.py [--events 20000] [--connections 32] [--workers 32]
       [--concurrency 8] [--processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import free_port, fusillade_request, hookyard_serve, wait_up

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench_secret"


# --- the destination: a raw asyncio HTTP/1.1 server ----------------------------------------------


async def destination(port: int, out: Path) -> None:
    arrivals: list[tuple[str, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, key = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    lname = name.strip().lower()
                    if lname == b"content-length":
                        length = int(value)
                    elif lname == b"idempotency-key":
                        key = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                arrivals.append((key, time.time()))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    out.write_text("\n".join(f"{k} {t}" for k, t in arrivals))


# --- the sender: N signed webhooks over keep-alive connections -----------------------------------


async def send(port: int, events: int, connections: int) -> None:
    run = str(int(time.time() * 1000))
    statuses: dict[int, int] = {}
    t0 = time.time()

    async def worker(w: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(w, events, connections):
            writer.write(fusillade_request(i, SECRET.encode(), f"127.0.0.1:{port}", "/hooks/fusillade", run))
            head = await reader.readuntil(b"\r\n\r\n")
            code = int(head[9:12])
            length = next(int(x[15:]) for x in head.split(b"\r\n") if x[:15].lower() == b"content-length:")
            await reader.readexactly(length)
            statuses[code] = statuses.get(code, 0) + 1
        writer.close()

    await asyncio.gather(*(worker(w) for w in range(connections)))
    print(json.dumps({"started": t0, "finished": time.time(), "status": statuses}))


# --- the driver -----------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--workers", type=int, default=32, help="delivery.workers")
    p.add_argument("--concurrency", type=int, default=8, help="the sink's concurrency")
    p.add_argument("--processes", type=int, default=1, help="server.processes (N > 1: dispatcher + N-1 receivers)")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--role", choices=["driver", "destination", "sender"], default="driver", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "destination":
        asyncio.run(destination(args.port, Path(args.out)))
        return
    if args.role == "sender":
        asyncio.run(send(args.port, args.events, args.connections))
        return

    work = Path(tempfile.mkdtemp(prefix="hookyard-delivery-bench-"))
    dest_port, port = free_port(), free_port()
    (work / "rules.yaml").write_text(
        "rules:\n  - name: every-run\n    match: {platform: fusillade, type: run.completed}\n    actions:\n"
        "      - sink: hook\n        request: {method: POST, path: /runs, json: {run: '{{ event.subject }}'}}\n"
    )
    cfg = work / "config.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{work}/bench.db'}}\nrules: ['{work / 'rules.yaml'}']\n"
        f"delivery: {{workers: {args.workers}, poll_interval_seconds: 0.1}}\n"
        f"sources:\n  - id: fusillade\n    kind: fusillade\n    secrets: ['{SECRET}']\n"
        f"sinks:\n  - id: hook\n    kind: http\n    base_url: http://127.0.0.1:{dest_port}\n    allow_private: true\n"
        f"    concurrency: {args.concurrency}\n"
    )
    me = [sys.executable, str(Path(__file__).resolve())]
    arrivals_file = work / "arrivals.txt"
    dest = subprocess.Popen([*me, "--role", "destination", "--port", str(dest_port), "--out", str(arrivals_file)])
    daemon = subprocess.Popen([*hookyard_serve(str(cfg), port), "--processes", str(args.processes)], cwd=ROOT)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", daemon)
        sent = json.loads(
            subprocess.run(
                [
                    *me,
                    "--role",
                    "sender",
                    "--port",
                    str(port),
                    "--events",
                    str(args.events),
                    "--connections",
                    str(args.connections),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        deadline = time.monotonic() + args.timeout
        with sqlite3.connect(work / "bench.db", timeout=30) as conn:
            while True:
                done = conn.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'succeeded'").fetchone()[0]
                if done >= args.events or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            counts = dict(conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())
            received = dict(
                conn.execute(
                    "SELECT d.id, e.received_at FROM deliveries d JOIN events e ON e.id = d.event_id"
                ).fetchall()
            )
    finally:
        daemon.terminate()
        daemon.wait()
        dest.send_signal(signal.SIGTERM)
        dest.wait()

    arrivals: dict[str, float] = {}
    dupes = 0
    for line in arrivals_file.read_text().splitlines():
        key, t = line.split(" ")
        dupes += key in arrivals
        arrivals.setdefault(key, float(t))
    times = sorted(arrivals.values())
    lags = sorted((arrivals[k] - received[k]) * 1000 for k in arrivals if k in received)
    n = len(arrivals)
    end_to_end = n / (times[-1] - sent["started"])
    dispatch = n / (times[-1] - times[0])
    print(
        f"command: .venv/bin/python bench/delivery_bench.py --events {args.events} --connections "
        f"{args.connections} --workers {args.workers} --concurrency {args.concurrency} --processes {args.processes}"
    )
    print(f"ingest      {args.events / (sent['finished'] - sent['started']):9.1f} webhooks/s  status {sent['status']}")
    print(f"end to end  {end_to_end:9.1f} deliveries/s  ({n} in {times[-1] - sent['started']:.2f} s)")
    print(f"dispatch    {dispatch:9.1f} deliveries/s  (first → last arrival {times[-1] - times[0]:.2f} s)")
    after = [t for t in times if t > sent["finished"]]
    if len(after) > 1:
        rate = len(after) / (times[-1] - sent["finished"])
        print(f"drain       {rate:9.1f} deliveries/s  ({len(after)} delivered after the last webhook was acknowledged)")
    print(f"lag         p50 {pct(lags, 0.5):.0f} ms  p99 {pct(lags, 0.99):.0f} ms  (receipt → arrival)")
    print(f"states      {counts}  arrived {n}  duplicates {dupes}  missing {args.events - n}")


if __name__ == "__main__":
    main()
