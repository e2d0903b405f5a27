"""Grouping benchmark: a burst of Automated Future result failures → one message per run.

Starts the real ``hookyard serve`` (SQLite) twice with the same source and rule, once with
``group: {by: [data.run.key], wait: …}`` on the action (``on``) and once without (``off``:
one delivery per event, not sent: ``delivery.workers: 0``, so only ingest is measured; the
``on`` daemon runs its dispatcher and flusher meanwhile). A separate load process sends
``--events`` signed result failures spread over ``--runs`` runs on keep-alive connections, as
fast as the daemon takes them; a fake Slack (an HTTP server in this process) records what
arrives. Prints the ingest throughput of both and their ratio, then every grouped message that
arrived: with every event in within ``wait``, exactly one per run (later ones are follow-ups,
as the timeline says). Checks that every acknowledged event is stored.

Rerun: .venv/bin/python bench/group_bench.py [--events 5000] [--runs 10] [--connections 32] [--wait 30]
       [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import free_port, hookyard_serve, wait_up

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_group_bench_secret"
MESSAGE = '{"run": {{ event.data.run.id | tojson }}, "count": COUNT, "shown": SHOWN}'
RULE = """\
rules:
  - name: af-failure-burst
    match: {platform: automatedfuture, type: result.reported, data.test.outcome: failed}
    actions:
      - sink: slack
GROUP        request:
          path: /slack
          json: !json 'MESSAGE'
"""


def rules(grouped: bool, wait: float) -> str:
    if grouped:
        message = MESSAGE.replace("COUNT", "{{ group.count }}").replace("SHOWN", "{{ group.events | length }}")
        group = f"        group: {{by: [data.run.key], wait: {wait:g}s, interval: 5m, max_events: 20}}\n"
    else:
        message = MESSAGE.replace("COUNT", "1").replace("SHOWN", "1")
        group = ""
    return RULE.replace("GROUP", group).replace("MESSAGE", message)


def config(work: Path, name: str, slack: str, grouped: bool, wait: float) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.rules.yaml").write_text(rules(grouped, wait))
    cfg = work / f"{name}.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{work}/{name}.db'}}\nrules: [{work}/{name}.rules.yaml]\n"
        f"delivery: {{workers: {4 if grouped else 0}, poll_interval_seconds: 0.5}}\n"
        "sources:\n  - id: af\n    kind: automatedfuture\n"
        f"    verify: {{scheme: hmac, header: X-Signature}}\n    secrets: ['{SECRET}']\n"
        f"sinks:\n  - id: slack\n    kind: http\n    base_url: {slack}\n    allow_private: true\n"
    )
    return cfg


# --- the fake Slack: records what arrives ------------------------------------------------------


class FakeSlack:
    def __init__(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        self.received: list[tuple[float, Any]] = []

        async def slack(request: Request) -> PlainTextResponse:
            self.received.append((time.monotonic(), json.loads(await request.body())))
            return PlainTextResponse("ok")

        app = Starlette(routes=[Route("/slack", slack, methods=["POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


# --- the load process -----------------------------------------------------------------------------


def request(i: int, runs: int, port: int) -> bytes:
    body = json.dumps({"test_result_id": f"res_{i}", "test_run_id": f"run_{i % runs}", "project_id": "shop-web",
                       "test_name": f"test_case_{i}", "status": "Failed",
                       "error_message": "AssertionError: expected 200, got 500"}).encode()  # fmt: skip
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = (
        f"POST /hooks/af HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load(port: int, events: int, runs: int, connections: int) -> dict[str, Any]:
    queue = iter(range(events))
    latencies: list[float] = []
    status: dict[int, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in queue:
            t0 = time.perf_counter()
            writer.write(request(i, runs, port))
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(x[15:]) for x in head.split(b"\r\n") if x[:15].lower() == b"content-length:")
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            code = int(head[9:12])
            status[code] = status.get(code, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {"events": events, "seconds": round(seconds, 3), "rps": round(events / seconds, 1), "status": status,
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2)}  # fmt: skip


# --- one daemon ----------------------------------------------------------------------------------------


def run(name: str, cfg: Path, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(hookyard_serve(str(cfg), port), cwd=ROOT)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", proc)
        cmd = [sys.executable, __file__, "--load", str(port), "--events", str(args.events), "--runs", str(args.runs),
               "--connections", str(args.connections)]  # fmt: skip
        result: dict[str, Any] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        result["loaded_at"] = time.monotonic()
        if name == "on":  # the groups become due `wait` after their first member; then a few flushes
            time.sleep(max(0.0, args.wait - result["seconds"]) + 3.0)
        db = sqlite3.connect(f"file:{cfg.parent / name}.db?mode=ro", uri=True)
        try:
            result["stored"] = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            result["deliveries"] = db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
            if name == "on":  # later events wait in follow-ups, due `interval` after their run's message
                result["open"] = db.execute("SELECT COUNT(*), SUM(members) FROM groups WHERE state = 'open'").fetchone()
        finally:
            db.close()
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wait", type=float, default=30.0, help="the group's wait: (s)")
    p.add_argument("--rounds", type=int, default=2, help="off/on pairs, alternating; the best of each is compared")
    p.add_argument("--load", type=int, default=None, help=argparse.SUPPRESS)  # the load process: its port
    args = p.parse_args()
    if args.load is not None:
        print(json.dumps(asyncio.run(load(args.load, args.events, args.runs, args.connections))))
        return

    work = Path(tempfile.mkdtemp(prefix="hookyard-group-bench-"))
    slack = FakeSlack()
    results: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    try:
        for n in range(args.rounds):
            for name in ("off", "on"):
                before = len(slack.received)
                r = run(name, config(work / f"{n}", name, slack.url, name == "on", args.wait), args)
                r["messages"] = slack.received[before:]
                results[name].append(r)
                print(f"round {n + 1} grouping {name:>3}: {r['events']} events in {r['seconds']:.2f} s = "
                      f"{r['rps']:.0f}/s (p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms), status {r['status']}, "
                      f"stored {r['stored']}, deliveries {r['deliveries']}", flush=True)  # fmt: skip
                assert r["stored"] == r["status"].get("202", 0) == r["events"], "every acknowledged event is stored"
                assert name == "on" or not r["messages"], "the off daemon sends nothing (delivery.workers: 0)"
    finally:
        slack.stop()
    best = {name: max(rs, key=lambda r: r["rps"]) for name, rs in results.items()}
    print(f"ingest throughput, best of {args.rounds}: off {best['off']['rps']:.0f}/s, on {best['on']['rps']:.0f}/s: "
          f"on is {best['on']['rps'] / best['off']['rps']:.1%} of off (target: at least 80%)")  # fmt: skip
    for n, on in enumerate(results["on"]):
        messages = on["messages"]
        first = on["loaded_at"] - on["seconds"]
        print(f"round {n + 1}: {len(messages)} messages arrived at the fake Slack (wait {args.wait:g} s, "
              f"interval 5m; the events took {on['seconds']:.1f} s):")  # fmt: skip
        for at, message in sorted(messages, key=lambda m: m[1]["run"]):
            print(f"  {message['run']}: count {message['count']}, shown {message['shown']}, "
                  f"{at - first:.1f} s after the first event")  # fmt: skip
        total = sum(m["count"] for _, m in messages)
        groups, members = on["open"]
        print(
            f"  {len(messages)} grouped deliveries for {len({m['run'] for _, m in messages})} runs carrying "
            f"{total} events; {groups} follow-up group(s) open with {members or 0} events (due after the interval)"
        )
        if on["seconds"] <= args.wait:
            assert len(messages) == args.runs and total == args.events, "one message per run, every event in it"
    print(f"(work dir {work})")


if __name__ == "__main__":
    main()
