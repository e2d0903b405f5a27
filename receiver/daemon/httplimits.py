"""HTTP limits for hostile clients, enforced in uvicorn's protocol before the app sees a request.

uvicorn (with httptools, the faster of its parsers, which ``serve`` uses) bounds neither the
size of a request's head nor the time a client may take to send it or its body: one
connection streaming an endless header grows the process without limit, and a few hundred
idle or trickling connections hold file descriptors for minutes. ``LimitedHttpTools`` is
uvicorn's own httptools protocol with, per connection:

* the request head (request line + headers) bounded in bytes and in header count
  (``431``), counted while it streams in so an endless header is cut early;
* one timer: the head must arrive within ``header_timeout`` of the connection opening (or
  of the next request's first byte on a keep-alive connection), and the body within
  ``body_timeout`` of the head (``408``); a connection that never sent a byte is just closed;
* at most ``max_connections`` open: one more closes the oldest connection that is not being
  answered (idle, or still sending its head), so a flood of slow connections cannot lock out
  a webhook; when every connection is busy, the newcomer gets ``503``.

Refusals are JSON ``{"error", "code"}`` with ``Connection: close`` (uvicorn's own plain-text
400 for a malformed request included), counted in ``/metrics`` by reason and logged at most
once a minute per reason.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from receiver.errors import error_body
from receiver.logfmt import LogThrottle

log = logging.getLogger("hookyard.http")

# File descriptors kept for everything that is not a client connection (store, logs, sinks).
RESERVED_FILES = 64
LOG_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


@dataclass
class Limits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float
    max_connections: int
    # Called with the reason (a Refusal code, or "idle_timeout") for each connection closed.
    on_refused: Callable[[str], None] = lambda reason: None
    _throttle: LogThrottle = field(default_factory=lambda: LogThrottle(LOG_EVERY_SECONDS))

    def refused(self, reason: str, message: str) -> None:
        self.on_refused(reason)
        # A flood would write a line per connection: one line a minute per reason, with the count.
        held_back = self._throttle.allow(reason)
        if held_back is not None:
            more = f" (and {held_back} more since the last report)" if held_back else ""
            log.warning("closed a client connection: %s%s", message, more)


def protocol_class(limits: Limits) -> type[HttpToolsProtocol]:
    """uvicorn's ``http=`` argument: the limited protocol bound to ``limits``."""
    return type("LimitedHttpTools", (LimitedHttpTools,), {"limits": limits})


def _response(refusal: Refusal) -> bytes:
    body = orjson.dumps(error_body(refusal.code, refusal.message))
    phrase = HTTPStatus(refusal.status).phrase
    head = (
        f"HTTP/1.1 {refusal.status} {phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


BAD_REQUEST = Refusal(400, "bad_request", "invalid HTTP request")


class LimitedHttpTools(HttpToolsProtocol):
    # Every webhook passes through here: the common case (a request in one chunk) costs one
    # comparison per chunk and no timer beyond the one armed when the connection opens.
    limits: ClassVar[Limits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._in_head = True  # between requests, or receiving one's request line and headers
        self._head_received = 0  # bytes of chunks that ended inside the head (what the parser buffers)
        self._chunk = 0
        self._heads = 0  # request heads completed on this connection
        self._refusal: Refusal | None = None
        self.since = 0.0  # when this connection last became idle or started a request head

    # -- connection ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.since = self.loop.time()
        self._arm(self.limits.header_timeout, self._head_timed_out)
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return
        heads = self._heads if self._in_head else -1
        self._chunk = len(data)
        # uvicorn's data_received, minus its unthrottled log line per malformed request.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # no WebSocket here (ws="none")
        except httptools.HttpParserError:
            self._refuse(self._refusal or BAD_REQUEST)
            return
        if self.transport.is_closing():
            return
        if heads == self._heads:  # the whole chunk was head, and the head goes on
            if self._head_received == 0:
                self.since = self.loop.time()
            self._head_received += len(data)
            if self._head_received > self.limits.max_header_bytes:
                self._refuse(self._too_large())
            elif self._timer is None:  # a keep-alive connection's next request
                self._arm(self.limits.header_timeout, self._head_timed_out)
        elif self._timer is None and not self._in_head and self.cycle.more_body:
            self._arm(self.limits.body_timeout, self._body_timed_out)

    # -- parser callbacks -----------------------------------------------------------------
    def on_headers_complete(self) -> None:
        limits = self.limits
        if len(self.headers) > limits.max_headers:
            self._refusal = Refusal(431, "too_many_headers", f"more than {limits.max_headers} request headers")
        elif self._head_received + self._chunk > (most := limits.max_header_bytes) and self._head_size() > most:
            self._refusal = self._too_large()
        if self._refusal is not None:
            raise ValueError(self._refusal.message)  # stops the parser; answered in data_received
        self._in_head = False
        self._heads += 1
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_received = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self.since = self.loop.time()
        super().on_response_complete()

    # -- limits -----------------------------------------------------------------------------
    def _head_size(self) -> int:
        # Only when the chunks could hold a head over the limit: the request line and headers as parsed.
        return len(self.url) + 16 + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _too_large(self) -> Refusal:
        n = self.limits.max_header_bytes
        return Refusal(431, "headers_too_large", f"request line and headers are larger than {n} bytes")

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._head_received == 0:  # connected and sent nothing: no request to answer
            self.limits.refused("idle_timeout", "no request within server.header_timeout_seconds")
            self.transport.close()
            return
        seconds = self.limits.header_timeout
        self._refuse(Refusal(408, "request_timeout", f"request headers not received within {seconds:g} s"))

    def _body_timed_out(self) -> None:
        self._timer = None
        seconds = self.limits.body_timeout
        self._refuse(Refusal(408, "request_timeout", f"request body not received within {seconds:g} s"))

    def _refuse(self, refusal: Refusal) -> None:
        self._refusal = refusal
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle  # the previous request's (answered) while a new head arrives
        answering = cycle is not None and not cycle.response_complete
        if not answering or not cycle.response_started:
            self.transport.write(_response(refusal))
        if answering:
            # The app may be waiting for the body: it sees the client gone and stores nothing.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()
        self.limits.refused(refusal.code, refusal.message)

    def busy(self) -> bool:
        """Answering a request whose head has arrived (the app runs for it)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _make_room(self) -> None:
        idle = [c for c in self.connections if isinstance(c, LimitedHttpTools) and c is not self and not c.busy()]
        n = self.limits.max_connections
        if not idle:
            self._refuse(Refusal(503, "too_many_connections", f"{n} connections are open and being answered"))
            return
        oldest = min(idle, key=lambda c: c.since)
        oldest._disarm()
        oldest.limits.refused("evicted", f"more than {n} connections: closed the oldest one not being answered")
        oldest.transport.close()


def raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit (where allowed); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft


def connection_budget(configured: int, file_limit: int) -> int:
    """``server.max_connections``, lowered to what the open-file limit leaves for clients."""
    if file_limit == resource.RLIM_INFINITY:
        return configured
    budget = max(1, file_limit - RESERVED_FILES)
    if budget < configured:
        log.warning(
            "server.max_connections %d exceeds what the open-file limit (%d) allows: using %d",
            configured,
            file_limit,
            budget,
        )
        return budget
    return configured
