"""Polling benchmark: the real daemon watches 2,000 runs at once against a fake platform that
answers at once (``fake_platform.py``, its own process).

Prints the polls per second and the daemon's CPU while it polls, the delay from a state change
on the fake to the routed event arriving back at the fake (p50/p99; target: within one poll
interval + 1 s), and the daemon's ingest throughput (``loadgen.py``, as ``ingest_bench.py``)
without and with the polling load (target: no more than 10% lower).

Rerun: .venv/bin/python bench/poll_bench.py [--runs 2000] [--interval 15] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import free_port, hookyard_serve, wait_up
from loadgen import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench_secret"
RULES = """\
rules:
  - name: polled-run-finished
    match: {platform: fusillade, type: run.completed, platform_event: poll}
    actions:
      - sink: hook
        request: {method: POST, path: /routed, json: {run: "{{ event.subject }}"}}
"""


def config(work: Path, fake: str, interval: float) -> Path:
    (work / "rules.yaml").write_text(RULES)
    cfg = work / "config.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{work}/bench.db'}}\nrules: ['{work / 'rules.yaml'}']\n"
        f"polling: {{interval_seconds: {interval}, concurrency: 64}}\n"
        "sources:\n"
        f"  - {{id: fusillade, kind: fusillade, secrets: ['{SECRET}'], "
        "poll: {sink: fusillade-api, start_on: [run.started]}}\n"
        f"  - {{id: load, kind: fusillade, secrets: ['{SECRET}']}}\n"
        "sinks:\n"
        # The fake answers at once and publishes no limit: the preset's 10/s would pace 2,000 runs.
        f"  - {{id: fusillade-api, kind: fusillade, api_key: bench_key, base_url: '{fake}', allow_private: true, "
        "rate_per_second: 1000, burst: 100}\n"
        f"  - {{id: hook, kind: http, base_url: '{fake}', allow_private: true}}\n"
    )
    return cfg


def ingest(port: int, pid: int, duration: float) -> dict:  # type: ignore[type-arg]
    cmd = [sys.executable, str(ROOT / "bench" / "loadgen.py"), "--port", str(port), "--secret", SECRET,
           "--path", "/hooks/load", "--duration", str(duration), "--server-pid", str(pid)]  # fmt: skip
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)  # type: ignore[no-any-return]


async def start_runs(daemon: str, fake: str, runs: list[str]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await client.post(f"{fake}/control/add", content=json.dumps(runs))
        queue = list(runs)

        async def sender() -> None:
            while queue:
                run = queue.pop()
                data = {"test_id": run, "name": "bench", "status": "running"}
                body = json.dumps({"event": "test.started", "timestamp": "2026-02-06T12:00:00Z", "data": data}).encode()
                ts = str(int(time.time()))
                mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                answer = await client.post(f"{daemon}/hooks/fusillade", content=body,
                                           headers={"X-Fusillade-Signature": f"t={ts},v1={mac}"})  # fmt: skip
                assert answer.status_code == 202, answer.text

        await asyncio.gather(*(sender() for _ in range(16)))


def stats(fake: str) -> dict:  # type: ignore[type-arg]
    return httpx.get(f"{fake}/control/stats", timeout=30).json()  # type: ignore[no-any-return]


def window(fake: str, pid: int, seconds: float) -> tuple[float, float]:
    """Polls per second and the daemon's CPU (share of one core) over ``seconds``."""
    polls0, cpu0, t0 = stats(fake)["polls"], cpu_seconds(pid) or 0.0, time.monotonic()
    time.sleep(seconds)
    polls1, cpu1, t1 = stats(fake)["polls"], cpu_seconds(pid) or 0.0, time.monotonic()
    return (polls1 - polls0) / (t1 - t0), (cpu1 - cpu0) / (t1 - t0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=2000)
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of each ingest measurement")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hookyard-poll-bench-"))
    fake_port, port = free_port(), free_port()
    fake, daemon = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{port}"
    fake_proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_platform.py"), "--port", str(fake_port)])
    proc = subprocess.Popen(hookyard_serve(str(config(work, fake, args.interval)), port), cwd=ROOT)
    try:
        wait_up(f"{fake}/healthz", fake_proc)
        wait_up(f"{daemon}/healthz", proc)
        alone = ingest(port, proc.pid, args.duration)
        runs = [f"bench-{i}" for i in range(args.runs)]
        asyncio.run(start_runs(daemon, fake, runs))
        time.sleep(args.interval)  # every run polled once: the steady state
        polls_per_s, cpu = window(fake, proc.pid, args.interval)
        loaded = ingest(port, proc.pid, args.duration)
        # State changes spread over one interval, in random order; each routed event comes back.
        random.shuffle(runs)
        batches = 10
        for b in range(batches):
            httpx.post(f"{fake}/control/complete", content=json.dumps(runs[b::batches]), timeout=30)
            time.sleep(args.interval / batches)
        deadline = time.monotonic() + 4 * args.interval
        while len(stats(fake)["routed"]) < len(runs) and time.monotonic() < deadline:
            time.sleep(0.5)
        final = stats(fake)
        # Every run is final now: nothing is polled. Ingest alone again (the machine is shared:
        # the figure without polling is the mean of one before and one after).
        after = ingest(port, proc.pid, args.duration)
    finally:
        proc.terminate()
        proc.wait()
        fake_proc.terminate()
        fake_proc.wait()
    delays = [final["routed"][r] - final["changed"][r] for r in runs if r in final["routed"]]
    alone_rps = (alone["rps"] + after["rps"]) / 2
    drop = 1 - loaded["rps"] / alone_rps
    print(f"command: .venv/bin/python bench/poll_bench.py --runs {args.runs} --interval {args.interval:g} "
          f"--duration {args.duration:g}")  # fmt: skip
    print(f"polling   {args.runs} runs watched, {polls_per_s:.1f} polls/s, daemon CPU {cpu * 100:.0f}% of a core")
    p50, p99 = statistics.median(delays), pct(delays, 0.99)
    print(f"delay     state change → routed event: p50 {p50:.2f} s, p99 {p99:.2f} s, "
          f"max {max(delays):.2f} s ({len(delays)}/{len(runs)} routed; target <= {args.interval + 1:g} s)")  # fmt: skip
    for name, r in (("before", alone), ("polling", loaded), ("after", after)):
        print(f"ingest    {name:8} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
              f"CPU {r['server_cpu_us']} µs/request  errors {r['errors']}")  # fmt: skip
    print(f"drop      {drop * 100:.1f}% fewer requests per second while polling than the mean of before and after "
          "(target <= 10%)")


if __name__ == "__main__":
    main()
