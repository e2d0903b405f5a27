"""``POST /hooks/{source_id}`` as a plain ASGI handler: the one hot path.

Every webhook comes through here. Starlette's request object, router, middleware stack
and response classes cost more CPU per request than verifying and normalizing together
(measured with ``bench/ingest_bench.py``), so this route reads and writes the ASGI
messages itself. Everything else in the app (other methods on this path, unknown paths,
the web pages) is ordinary Starlette.

The contract is the same as any other route's: every error a client can cause is a 4xx
``{"error": ..., "code": ...}``; anything unexpected is logged and answered with a 500
saying the request was not stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from receiver.errors import HTTPError, PayloadTooLarge
from receiver.ingest import Ingest
from receiver.logfmt import log_event
from receiver.verify.base import RawRequest

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("hookyard.app")

PREFIX = "/hooks/"


class ClientGone(Exception):
    """The client disconnected before its body arrived: nothing to store, nobody to answer."""


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


async def handle_hook(
    ingest: Ingest, max_body: int, source_id: str, scope: Scope, receive: Receive, send: Send
) -> None:
    try:
        src = ingest.source(source_id)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = await read_body(headers.get("content-length"), receive, max_body)
        req = RawRequest(
            body=body,
            headers=headers,
            method="POST",
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
        )
        result = await ingest.receive(src, req)
    except HTTPError as exc:
        client = scope.get("client")
        address = client[0] if client else None
        # Who was refused and why, never what they sent (no body, no signature); a flood from
        # one client is one line per Ingest.rejection_log period, with the count held back.
        held_back = ingest.rejection_log.allow((source_id, exc.code, address))
        if held_back is not None:
            level = logging.WARNING if exc.status == 401 else logging.INFO  # a bad signature is worth a look
            more = {"held_back": held_back} if held_back else {}
            log_event(log, level, "request.rejected", source=source_id, status=exc.status, code=exc.code,
                      client=address, **more)
        await respond(send, exc.status, {"error": exc.message, "code": exc.code}, exc.retry_after)
    except ClientGone:
        return
    except Exception:
        log.exception("unexpected error on POST %s", scope["path"])
        await respond(send, 500, {"error": "internal error; the request was not stored", "code": "internal_error"})
    else:
        await respond(
            send, 200 if result.duplicate else 202, {"event_id": result.event_id, "duplicate": result.duplicate}
        )


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
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers,
        }
    )
    await send({"type": "http.response.body", "body": body})
