"""Hostile clients on real sockets: idle, trickling and oversized-header connections.

One thread keeps the asked number of each kind open against a server (a connection the
server closes is opened again), and records how each one ended: the status line the server
answered with, or ``closed`` when it hung up without one, with the seconds it lasted.
Used by ``bench/hostile.py`` and by the daemon's process test (``tests/test_serve.py``).
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

HEAD = b"POST /hooks/fusillade HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Pad: "
CHUNK = b"a" * 65536


@dataclass
class _Conn:
    kind: str
    sock: socket.socket
    opened: float
    next_send: float = 0.0
    sent: int = 0


@dataclass
class Flood:
    host: str
    port: int
    idle: int = 300
    trickle: int = 20
    oversized: int = 2
    trickle_every: float = 0.5  # seconds between two bytes of a trickling head
    ended: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, "408" / "431" / "closed")
    lasted: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    connect_errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flood", daemon=True)
        self._conns: dict[int, _Conn] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Flood:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def open(self, kind: str) -> int:
        with self._lock:
            return sum(1 for c in self._conns.values() if c.kind == kind)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        try:
            while not self._stop.is_set():
                self._fill(sel)
                now = time.monotonic()
                for key, events in sel.select(timeout=0.05):
                    conn = self._conns.get(key.fd)
                    if conn is None:
                        continue
                    if events & selectors.EVENT_READ:
                        self._end(sel, conn, now)
                    elif events & selectors.EVENT_WRITE:
                        self._send(sel, conn, CHUNK, now)
                for conn in list(self._conns.values()):
                    if conn.kind == "trickle" and conn.next_send <= now:
                        conn.next_send = now + self.trickle_every
                        data = HEAD[conn.sent : conn.sent + 1] if conn.sent < len(HEAD) else b"a"
                        self._send(sel, conn, data, now)
        finally:
            for conn in list(self._conns.values()):
                conn.sock.close()
            sel.close()

    def _fill(self, sel: selectors.BaseSelector) -> None:
        wanted = {"idle": self.idle, "trickle": self.trickle, "oversized": self.oversized}
        for kind, n in wanted.items():
            for _ in range(n - self.open(kind)):
                try:
                    sock = socket.create_connection((self.host, self.port), timeout=5)
                except OSError:
                    self.connect_errors += 1
                    return
                sock.setblocking(False)
                now = time.monotonic()
                conn = _Conn(kind, sock, now, next_send=now)
                with self._lock:
                    self._conns[sock.fileno()] = conn
                if kind == "oversized":
                    sock.send(HEAD)
                    sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
                else:
                    sel.register(sock, selectors.EVENT_READ)

    def _send(self, sel: selectors.BaseSelector, conn: _Conn, data: bytes, now: float) -> None:
        try:
            conn.sent += conn.sock.send(data)
        except BlockingIOError:
            pass
        except OSError:
            self._end(sel, conn, now)

    def _end(self, sel: selectors.BaseSelector, conn: _Conn, now: float) -> None:
        try:
            answer = conn.sock.recv(4096)
        except OSError:
            answer = b""
        outcome = answer[9:12].decode("ascii", "replace") if answer.startswith(b"HTTP/1.1 ") else "closed"
        self.ended[(conn.kind, outcome)] += 1
        self.lasted.setdefault((conn.kind, outcome), []).append(now - conn.opened)
        with self._lock:
            del self._conns[conn.sock.fileno()]
        sel.unregister(conn.sock)
        conn.sock.close()
