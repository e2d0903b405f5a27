"""Shared test helpers: real daemon processes, signing, and the secret-leak check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeClock:
    """The one clock tests move by hand (``store``, ``delivery``, app tests)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fusillade_body(
    event: str, test_id: str, name: str = "API Load Test", timestamp: str = "2026-02-06T12:00:00Z", **data: object
) -> bytes:
    """A Fusillade webhook body as documented (fusillade-api.txt, "Payload Format"); ``data`` overrides fields."""
    fields = {
        "test_id": test_id,
        "name": name,
        "status": "completed" if event == "test.completed" else "failed",
        "workers": 100,
        "duration_seconds": 60,
        "p95_latency_ms": 42,
        "error_rate": 0.001,
        "target_urls": ["https://api.example.com"],
        "threshold_results": None,
        **data,
    }
    return json.dumps({"event": event, "timestamp": timestamp, "data": fields}).encode()


def stripe_header(secret: str, body: bytes, ts: int) -> str:
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def secret_shapes(secret: str) -> set[str]:
    """The ways a secret can show up in text: as written, percent-encoded (a URL path, query or
    userinfo), form-encoded, JSON-escaped, and base64 (a Basic credential); a secret that is a
    URL also by each of its token-like parts (user, password, path segments, query values)."""
    shapes = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]}
    shapes.add(base64.b64encode(secret.encode()).decode())
    if "://" in secret:
        parts = urlsplit(secret)
        if parts.password:
            shapes.add(base64.b64encode(f"{unquote(parts.username or '')}:{unquote(parts.password)}".encode()).decode())
        pieces = [parts.username or "", parts.password or "", *parts.path.split("/")]
        pieces += [v for pair in parts.query.split("&") for v in pair.split("=")[1:]]
        for piece in (unquote(p) for p in pieces):
            if len(piece) >= 8:
                shapes |= secret_shapes(piece)
    return shapes


def assert_no_secret(texts: Iterable[str | bytes], secrets: Iterable[str]) -> None:
    """No secret may appear in logs, error bodies, stored rows or pages, in any shape."""
    blobs = [t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in texts]
    for secret in secrets:
        for shape in secret_shapes(secret):
            for blob in blobs:
                assert shape not in blob, f"a secret leaked (as {shape!r}) into: {blob[:300]!r}"


class Daemon:
    """A real ``hookyard serve`` process on a free loopback port."""

    def __init__(self, config: Path, *, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.config = config
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.log = log or config.parent / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Daemon:  # generous: startup takes 15-20 s on a loaded 2-core machine
        logf = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "receiver",
                "serve",
                "--config",
                str(self.config),
                "--port",
                str(self.port),
            ],
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.config.parent,
        )
        deadline = time.monotonic() + timeout
        # One client for all the polls: each bare httpx.get builds a TLS context (~45 ms of CPU),
        # which at this poll rate took most of a core from the daemon it was waiting for.
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"daemon exited early:\n{self.log.read_text()}")
                try:
                    if client.get(self.url + "/healthz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        # Stop it before saying so: the caller never gets a handle to it, and a daemon left
        # running (with its worker processes) loads the machine for every later test.
        self.stop()
        raise RuntimeError(f"daemon did not become healthy:\n{self.log.read_text()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(probe: Callable[[], T | None], timeout: float = 20, explain: Callable[[], str] = lambda: "") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``explain()`` after ``timeout`` s.

    A probe that cannot get an answer yet counts as "not yet", not as a failure: a daemon
    still starting (or a child being replaced) refuses or times out HTTP requests, and has
    not created its tables."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except (httpx.TransportError, sqlite3.OperationalError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s\n{explain()[-4000:]}")
        time.sleep(0.05)
