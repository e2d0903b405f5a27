"""``POST /hooks/{source_id}``: verify → normalize → run → plan → store, then answer.

The one request path. ``Ingest`` is a plain ASGI app: Starlette's request object, router,
middleware stack and response classes cost more CPU per request than verifying and
normalizing together (measured with ``bench/ingest_bench.py``), so this path reads and
writes the ASGI messages itself. ``HookyardApp`` hands it every ``POST /hooks/{id}`` before
Starlette's routing; the route ``create_app`` declares for it answers the other methods 405.

Every error a client can cause is a 4xx ``{"error": ..., "code": ...}``; anything
unexpected is logged and answered with a 500 saying the request was not stored. The 2xx
goes out only after the store has committed the event and its deliveries.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from receiver.config import Config, Source
from receiver.errors import HTTPError, NotFound, PayloadTooLarge, VerificationError, error_body
from receiver.events import new_event
from receiver.logfmt import LogThrottle, log_event
from receiver.metrics import Metrics
from receiver.rules import Router
from receiver.runs import track as runs
from receiver.sources.base import safe_normalize
from receiver.store import Store
from receiver.store.base import SaveResult
from receiver.verify.base import RawRequest, Verified

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("hookyard.ingest")
REJECTION_LOG_SECONDS = 10.0
PREFIX = "/hooks/"


class ClientGone(Exception):
    """The client disconnected before its body arrived: nothing to store, nobody to answer."""


@dataclass
class Ingest:
    config: Config
    store: Store
    router: Router
    metrics: Metrics
    clock: Callable[[], float]
    on_stored: Callable[[], None] = lambda: None
    # Rejected requests are logged by (source, code, client) at most once per period.
    rejection_log: LogThrottle = field(default_factory=lambda: LogThrottle(REJECTION_LOG_SECONDS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app (Starlette's route gives ``path_params``; the fast path does not)."""
        source_id = scope["path_params"]["source_id"] if "path_params" in scope else hook_source_id(scope)
        await self.handle(source_id or "", scope, receive, send)

    async def handle(self, source_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            src = self.source(source_id)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            body = await read_body(headers.get("content-length"), receive, self.config.server.max_body_bytes)
            req = RawRequest(
                body=body, headers=headers, method="POST", path=scope["path"],
                query=scope["query_string"].decode("latin-1"),
            )  # fmt: skip
            result = await self.receive(src, req)
        except HTTPError as exc:
            self._rejected(source_id, exc, scope)
            await respond(send, exc.status, error_body(exc.code, exc.message), exc.retry_after)
        except ClientGone:
            return
        except Exception:
            log.exception("unexpected error on POST %s", scope["path"])
            await respond(send, 500, error_body("internal_error", "internal error; the request was not stored"))
        else:
            status = 200 if result.duplicate else 202
            await respond(send, status, {"event_id": result.event_id, "duplicate": result.duplicate})

    def source(self, source_id: str) -> Source:
        src = self.config.sources.get(source_id)
        if src is None:
            raise NotFound(f"no source {source_id!r}", code="unknown_source")
        return src

    async def receive(self, src: Source, req: RawRequest) -> SaveResult:
        now = self.clock()
        try:
            verified = src.verifier.verify(req, now)
        except VerificationError as exc:
            self.metrics.rejected(src.id, exc.code)  # logged with the client address by handle
            raise
        normalized = safe_normalize(src.adapter, req)
        keys = dedupe_keys(src, req, verified)
        event = new_event(
            normalized, source_id=src.id, kind=src.kind, received_at=now, body=req.body, headers=req.headers,
            private_headers=src.private_headers, dedupe_keys=keys,
            # A provider delivery id names redeliveries exactly; only without one does
            # an identical body within the window count as a redelivery.
            dedupe_window=0.0 if keys and keys[0].startswith("id:") else src.dedupe_window,
        )  # fmt: skip
        # The run (when the event names one) is merged and the event enriched, then planned.
        result, planned = await runs.save(
            self.store, event, self.router.plan, now, git=src.git, baseline=src.baseline, poll=src.poll
        )
        self.metrics.received(src.id, result.duplicate)
        if result.groups_opened:
            self.metrics.groups_opened(result.groups_opened)
        if not result.duplicate:
            if planned:
                self.on_stored()
            log.debug("stored event=%s source=%s type=%s", event.id, src.id, normalized.type)
        return result

    def _rejected(self, source_id: str, exc: HTTPError, scope: Scope) -> None:
        client = scope.get("client")
        address = client[0] if client else None
        # Who was refused and why, never what they sent (no body, no signature); a flood from
        # one client is one line per REJECTION_LOG_SECONDS, with the count held back.
        held_back = self.rejection_log.allow((source_id, exc.code, address))
        if held_back is not None:
            level = logging.WARNING if exc.status == 401 else logging.INFO  # a bad signature is worth a look
            more = {"held_back": held_back} if held_back else {}
            log_event(log, level, "request.rejected", source=source_id, status=exc.status, code=exc.code,
                      client=address, **more)  # fmt: skip


def hook_source_id(scope: Scope) -> str | None:
    """The source id when ``scope`` is ``POST /hooks/{source_id}``; None for anything else."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if not path.startswith(PREFIX):
        return None
    source_id = path[len(PREFIX) :]
    # The same segment Starlette's ``{source_id}`` matches: one non-empty path segment.
    return source_id if source_id and "/" not in source_id else None


def dedupe_keys(src: Source, req: RawRequest, verified: Verified) -> list[str]:
    delivery_id = verified.delivery_id
    if delivery_id is None and src.delivery_id_header:
        delivery_id = req.header(src.delivery_id_header)
    if delivery_id:
        return [f"id:{delivery_id}"]
    if verified.signature:
        return ["sig:" + hashlib.sha256(verified.signature.encode()).hexdigest()]
    return []


async def read_body(declared: str | None, receive: Receive, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it would exceed ``limit`` bytes."""
    if declared is not None:
        try:
            too_large = int(declared) > limit
        except ValueError:
            raise HTTPError("Content-Length is not a number", code="bad_content_length") from None
        if too_large:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"body is larger than {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(send: Send, status: int, payload: dict[str, Any], retry_after: int | None = None) -> None:
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),  # here, not by app.py's wrapper: this path is hot
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
