"""What the benchmark scripts share: free ports, waiting for a server, signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Until ``url`` answers anything; exits if the server process dies first."""
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def hookyard_serve(config: str, port: int) -> list[str]:
    """The command line of a real daemon for a benchmark (warnings only: no log I/O in the way)."""
    return [
        sys.executable,
        "-m",
        "receiver",
        "serve",
        "--config",
        config,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def signed_fusillade(i: int, secret: bytes, run: str, lifecycle: bool = False) -> tuple[bytes, str]:
    """A unique ``test.completed`` body and its ``X-Fusillade-Signature``, signed now. With
    ``lifecycle``, request pairs are one run's ``test.started`` then its ``test.completed``
    (a run's usual two events) instead of a new finished run per request (the worst case)."""
    data = {"test_id": f"{run}-{i}", "name": "API Load Test", "status": "completed",
            "workers": 100, "duration_seconds": 60, "p95_latency_ms": 42, "error_rate": 0.001}  # fmt: skip
    event = "test.completed"
    if lifecycle:
        data["test_id"] = f"{run}-{i // 2}"
        if i % 2 == 0:
            event = "test.started"
            data = {"test_id": data["test_id"], "name": "API Load Test", "status": "running", "workers": 100}
    body = json.dumps({"event": event, "timestamp": "2026-02-06T12:00:00Z", "data": data}).encode()
    ts = str(int(time.time()))
    mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, f"t={ts},v1={mac}"


def fusillade_request(i: int, secret: bytes, host: str, path: str, run: str, lifecycle: bool = False) -> bytes:
    """A raw HTTP/1.1 request carrying ``signed_fusillade``, as Fusillade sends it."""
    body, signature = signed_fusillade(i, secret, run, lifecycle)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"X-Fusillade-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
