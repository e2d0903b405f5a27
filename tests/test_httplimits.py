"""receiver.daemon.httplimits: uvicorn's protocol with bounds on head size, header count, time and connections.

In process: the real protocol class and httptools parser, fed bytes through a recording
transport, with a fake clock whose timers the test fires (no sleeping). The real daemon
under a flood of real sockets is in tests/test_serve.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from receiver.daemon.httplimits import Limits, connection_budget, protocol_class

pytestmark = pytest.mark.anyio

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Timer:
    def __init__(self, when: float, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args, self.cancelled = when, callback, args, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """The running loop for tasks; a fake clock for time() and call_later()."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.now = 0.0
        self.timers: list[Timer] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> Timer:
        timer = Timer(self.now + delay, callback, args)
        self.timers.append(timer)
        return timer

    def create_task(self, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        return self.loop.create_task(coro, **kw)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in [t for t in self.timers if not t.cancelled and t.when <= self.now]:
            timer.cancelled = True
            timer.callback(*timer.args)


class Transport(asyncio.Transport):
    def __init__(self, protocol: Any) -> None:
        super().__init__()
        self.protocol = protocol
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written += bytes(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.protocol.connection_lost(None)

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Reads the whole body, answers 202 with its length (what a webhook endpoint does)."""
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = json.dumps({"size": size}).encode()
    await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


class Server:
    """Connections to one protocol class sharing uvicorn's server state, as in uvicorn."""

    def __init__(self, loop: FakeLoop, max_connections: int = 100) -> None:
        self.refused: list[str] = []
        self.limits = Limits(
            max_header_bytes=2048,
            max_headers=20,
            header_timeout=HEADER_TIMEOUT,
            body_timeout=BODY_TIMEOUT,
            max_connections=max_connections,
            on_refused=self.refused.append,
        )
        self.config = uvicorn.Config(
            echo_app, http=protocol_class(self.limits), ws="none", log_level="critical", timeout_keep_alive=30
        )
        self.config.load()
        self.state = ServerState()
        self.loop = loop

    def connect(self) -> Any:
        proto = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.state, app_state={}, _loop=self.loop
        )
        proto.connection_made(Transport(proto))
        return proto


def status_of(proto: Any) -> tuple[int | None, str | None]:
    """The status and error code written on ``proto``'s connection (None when nothing was)."""
    raw = proto.transport.written
    if not raw:
        return None, None
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    code = json.loads(body)["code"] if b"application/json" in head else None
    return status, code


HEAD = b"POST /hooks/x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"

# (what the client sends, seconds of silence after it, expected answer, connection closed, metric reason)
CASES = [
    ("complete request", [HEAD + b"\r\nbody"], 0, (202, None), False, None),
    ("head in many small chunks", [bytes([b]) for b in HEAD + b"\r\nbody"], 0, (202, None), False, None),
    ("one header too big", [HEAD + b"X-Big: " + b"a" * 3000 + b"\r\n\r\nbody"], 0, (431, "headers_too_large"), True,
     "headers_too_large"),
    ("endless header, streamed", [HEAD + b"X-Big: "] + [b"a" * 1000] * 5, 0, (431, "headers_too_large"), True,
     "headers_too_large"),
    ("long request line", [b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n"], 0, (431, "headers_too_large"), True,
     "headers_too_large"),
    ("too many headers", [HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(25)) + b"\r\nbody"], 0,
     (431, "too_many_headers"), True, "too_many_headers"),
    ("malformed", [b"\x00\x01 nonsense\r\n\r\n"], 0, (400, "bad_request"), True, "bad_request"),
    ("idle: connects, sends nothing", [], HEADER_TIMEOUT, (None, None), True, "idle_timeout"),
    ("trickling head", [b"POST /ho", b"oks/x HT"], HEADER_TIMEOUT, (408, "request_timeout"), True,
     "request_timeout"),
    ("head in time, body never ends", [HEAD + b"\r\nbo"], BODY_TIMEOUT, (408, "request_timeout"), True,
     "request_timeout"),
    ("slow but within the bounds", [HEAD], HEADER_TIMEOUT - 1, (None, None), False, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sent", "silence", "answer", "closed", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_limits(
    sent: list[bytes], silence: float, answer: tuple[int | None, str | None], closed: bool, reason: str | None
) -> None:
    server = Server(FakeLoop(asyncio.get_running_loop()))
    proto = server.connect()
    for chunk in sent:
        proto.data_received(chunk)
    await asyncio.sleep(0.01)  # the app task runs on the real loop
    server.loop.advance(silence)
    await asyncio.sleep(0.01)
    assert status_of(proto) == answer
    assert proto.transport.closed is closed
    assert server.refused == ([reason] if reason else [])


async def test_a_keep_alive_connection_gets_the_head_bound_again_for_its_next_request() -> None:
    server = Server(FakeLoop(asyncio.get_running_loop()))
    proto = server.connect()
    proto.data_received(HEAD + b"\r\nbody")
    await asyncio.sleep(0.01)
    assert status_of(proto) == (202, None)
    server.loop.advance(HEADER_TIMEOUT + 1)  # idle between requests: uvicorn's keep-alive (30 s) governs
    assert not proto.transport.closed
    proto.transport.written = b""
    proto.data_received(b"POST /hoo")
    server.loop.advance(HEADER_TIMEOUT)
    assert status_of(proto) == (408, "request_timeout")
    assert proto.transport.closed


async def test_a_body_cut_off_by_the_timeout_never_reaches_the_app_as_complete() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return

    server = Server(FakeLoop(asyncio.get_running_loop()))
    server.config.loaded_app = app
    proto = server.connect()
    proto.app = app
    proto.data_received(HEAD + b"\r\nbo")
    await asyncio.sleep(0.01)
    server.loop.advance(BODY_TIMEOUT)
    await asyncio.sleep(0.01)
    assert seen == ["http.request", "http.disconnect"]
    assert status_of(proto) == (408, "request_timeout")


async def test_over_max_connections_the_oldest_idle_one_is_closed_never_a_busy_one() -> None:
    loop = FakeLoop(asyncio.get_running_loop())
    server = Server(loop, max_connections=3)
    gate = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await gate.wait()
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    server.config.loaded_app = slow_app
    busy = server.connect()
    busy.app = slow_app
    busy.data_received(HEAD + b"\r\nbody")  # being answered
    loop.now += 1
    oldest_idle = server.connect()
    loop.now += 1
    newer_idle = server.connect()
    loop.now += 1
    newest = server.connect()  # the fourth: room is made
    assert (busy.transport.closed, oldest_idle.transport.closed, newer_idle.transport.closed) == (False, True, False)
    assert not newest.transport.closed
    assert server.refused == ["evicted"]
    gate.set()
    await asyncio.sleep(0.01)
    assert status_of(busy) == (202, None)


async def test_when_every_connection_is_busy_the_newcomer_gets_503() -> None:
    server = Server(FakeLoop(asyncio.get_running_loop()), max_connections=1)
    gate = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await gate.wait()

    server.config.loaded_app = slow_app
    busy = server.connect()
    busy.app = slow_app
    busy.data_received(HEAD + b"\r\nbody")
    newcomer = server.connect()
    assert status_of(newcomer) == (503, "too_many_connections")
    assert newcomer.transport.closed and not busy.transport.closed
    gate.set()


@pytest.mark.parametrize(
    ("configured", "file_limit", "budget"),
    [(1000, 1_048_576, 1000), (1000, 1024, 1024 - 64), (10, 100, 10), (1000, 10, 1)],
)
def test_connection_budget_leaves_files_for_the_rest(configured: int, file_limit: int, budget: int) -> None:
    assert connection_budget(configured, file_limit) == budget
