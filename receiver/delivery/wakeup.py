"""Waking the dispatcher from another process (``server.processes`` > 1).

Receiver processes store events; the dispatcher runs in a process of its own. Each
stored event with deliveries sends one datagram to the dispatcher's Unix socket, so it
claims the new work at once instead of at its next poll. A wake-up is only a hint: a
lost one (dispatcher restarting, socket buffer full) costs at most one poll interval,
never a delivery, because the deliveries are already rows in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable


class WakeupSender:
    """The receiver side: ``notify()`` is cheap and never blocks or raises."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._scheduled = False

    def notify(self) -> None:
        # Many events stored in one batch need only one wake-up: send once per loop turn.
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        with contextlib.suppress(OSError):  # no listener right now, or its buffer is full
            self._sock.sendto(b"!", self.path)

    def close(self) -> None:
        self._sock.close()


class WakeupListener:
    """The dispatcher side: calls ``on_wake`` whenever datagrams arrive."""

    def __init__(self, path: str, on_wake: Callable[[], None]) -> None:
        self.path = path
        self._on_wake = on_wake
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.bind(path)
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._readable)

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._sock.recv(64):
                pass
        self._on_wake()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
