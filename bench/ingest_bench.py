"""Ingress benchmark: Hookyard vs a bare Starlette endpoint, same uvicorn, same load.

Starts the real ``hookyard serve`` (SQLite, synchronous=FULL, group commit) and the
ceiling app, drives each with signed Fusillade webhooks at 64 keep-alive connections
from a separate process for a fixed time, then checks that every acknowledged event
is in the database. Prints requests/s, p50/p99 and the server's CPU time per request for
both, and the ratio.

Rerun: .venv/bin/python bench/ingest_bench.py [--duration 10] [--connections 64] [--with-rules] [--lifecycle]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from common import free_port, hookyard_serve, wait_up

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench_secret"


def load(port: int, server_pid: int, args: argparse.Namespace, collect: bool) -> dict:  # type: ignore[type-arg]
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "loadgen.py"),
        "--port",
        str(port),
        "--secret",
        SECRET,
        "--connections",
        str(args.connections),
        "--duration",
        str(args.duration),
        "--server-pid",
        str(server_pid),
    ]
    if collect:
        cmd.append("--collect-ids")
    if args.lifecycle:
        cmd.append("--lifecycle")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--with-rules", action="store_true", help="route through the example rules/ (no sending)")
    p.add_argument(
        "--lifecycle", action="store_true",
        help="each run sends test.started then test.completed (default: every request a new finished run)",
    )
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hookyard-bench-"))
    rules = f"[{ROOT / 'rules'}]" if args.with_rules else "[]"
    cfg = work / "config.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{work}/bench.db'}}\nrules: {rules}\ndelivery: {{workers: 0}}\n"
        f"sources:\n  - id: fusillade\n    kind: fusillade\n    secrets: ['{SECRET}']\n"
    )
    results = {}
    for name in ("ceiling", "hookyard"):
        port = free_port()
        if name == "hookyard":
            cmd = hookyard_serve(str(cfg), port)
        else:
            cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.ceiling_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
        proc = subprocess.Popen(cmd, cwd=ROOT)
        try:
            wait_up(f"http://127.0.0.1:{port}/healthz", proc)
            results[name] = load(port, proc.pid, args, collect=name == "hookyard")
        finally:
            proc.terminate()
            proc.wait()

    acked = results["hookyard"].pop("acked_ids") or []
    results["ceiling"].pop("acked_ids", None)
    with sqlite3.connect(work / "bench.db") as conn:
        stored = {r[0] for r in conn.execute("SELECT id FROM events")}
    lost = [a for a in acked if a not in stored]
    ratio = results["hookyard"]["rps"] / results["ceiling"]["rps"]
    print(
        f"command: .venv/bin/python bench/ingest_bench.py --duration {args.duration} "
        f"--connections {args.connections}{' --with-rules' if args.with_rules else ''}"
        f"{' --lifecycle' if args.lifecycle else ''}"
    )
    for name, r in results.items():
        print(
            f"{name:9} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
            f"CPU {r['server_cpu_us']} µs/request  requests {r['requests']}  errors {r['errors']}  status {r['status']}"
        )
    print(f"ratio     {ratio:.2f}x of the ceiling (target >= 0.6x, aim 0.8x; p99 target <= 50 ms)")
    print(f"durable   {len(acked)} acknowledged, {len(acked) - len(lost)} found in the database, {len(lost)} missing")


if __name__ == "__main__":
    main()
