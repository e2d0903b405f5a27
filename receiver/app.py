"""The ASGI application: routes, error handling, lifespan.

``create_app`` takes its edges as arguments (store, clock, rules, http) so tests can use a
real store on a temp file and a fake clock; it builds the running parts (``runtime``) and hands
each route the parts it uses. Every error a client can cause becomes a
4xx ``{"error": ..., "code": ...}``; nothing a client sends produces a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver import status
from receiver.config import Config
from receiver.errors import HTTPError, StoreBusy, error_body
from receiver.ingest import Receive, Scope, Send, hook_source_id
from receiver.reload import Reloader
from receiver.rules import RuleSet, load_rules_for
from receiver.runtime import Runtime
from receiver.sinks.client import HttpClient
from receiver.store import Store, open_configured
from receiver.web import guard_for
from receiver.web import routes as web_routes
from receiver.web.service import DeliveryLog

log = logging.getLogger("hookyard.app")

_STARLETTE_CODES = {404: "not_found", 405: "method_not_allowed"}
# /readyz answers within this even while a write waits for the store's lock (probes time out).
READY_STORE_WAIT_SECONDS = 2.0


def error_response(status: int, code: str, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


class Ops:
    """``/healthz``, ``/readyz`` and ``/metrics`` of one running daemon."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def healthz(self, request: Request) -> Response:
        """Able to serve: the event loop answered (this response) and the store can still write."""
        if self.rt.fatal is not None:
            return JSONResponse({"status": "failing", "error": self.rt.fatal}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        rt = self.rt
        checks: dict[str, Any] = {"config": {"status": "ok", "file": str(rt.config.path)}}
        ready = True
        wait = min(READY_STORE_WAIT_SECONDS, rt.config.storage.busy_timeout_seconds + 1)
        try:
            await asyncio.wait_for(rt.store.ping(), timeout=wait)
            checks["store"] = {"status": "ok"}
        except (StoreBusy, TimeoutError) as exc:
            ready = False
            busy = str(exc) or (
                f"the store accepted no write within {wait:g} s (another process holds its write lock, "
                "or the disk or server is slow)"
            )
            checks["store"] = {"status": "busy", "code": StoreBusy.code, "error": busy}
        except Exception as exc:
            ready = False
            checks["store"] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        rules: dict[str, Any] = {"status": "ok", "version": getattr(rt.router.ruleset, "version", None)}
        if rt.reload_error:
            # The old rules keep running; readiness stays up so no webhook is refused.
            rules.update(status="stale", error=rt.reload_error)
        checks["rules"] = rules
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    async def metrics(self, request: Request) -> Response:
        self.rt.breaker_states()  # an open breaker whose cooldown ended shows half-open
        queue = await status.queue_snapshot(self.rt.store, self.rt.clock())
        return Response(self.rt.metrics.render(queue), media_type="text/plain; version=0.0.4")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(exc.status, exc.code, exc.message, exc.retry_after)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STARLETTE_CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, exc.detail), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; the request was not stored")


def _nosniff(send: Send) -> Send:
    """Every answer says ``nosniff``: no browser may take JSON or metrics for a page or a script."""

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if all(k.lower() != b"x-content-type-options" for k, _ in headers):
                message = {**message, "headers": [*headers, (b"x-content-type-options", b"nosniff")]}
        await send(message)

    return sending


class HookyardApp(Starlette):
    """Starlette, with ``POST /hooks/{source_id}`` taken straight to its handler: the
    webhook path skips the middleware stack and router (see ``receiver.ingest``)."""

    def __init__(self, rt: Runtime, reloader: Reloader, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hookyard = rt
        self.reloader = reloader

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source_id = hook_source_id(scope)
        if source_id is None:
            await super().__call__(scope, receive, _nosniff(send))
        else:  # the request path's answers carry nosniff themselves
            await self.hookyard.ingest.handle(source_id, scope, receive, send)


def create_app(
    config: Config,
    *,
    store: Store | None = None,
    clock: Callable[[], float] | None = None,
    rules: RuleSet | None = None,
    http: HttpClient | None = None,
    deliver: bool = True,
    wake: Callable[[], None] | None = None,
) -> HookyardApp:
    """The app, routing by ``rules`` (by default: the config's rule files, loaded here).
    ``deliver=False`` runs no dispatcher here (``wake`` then tells the one running elsewhere
    about new work)."""
    clock = clock or time.time
    store = store or open_configured(config, clock=clock)
    own_http = http is None
    http = http or HttpClient()
    rt = Runtime(config, store, load_rules_for(config) if rules is None else rules, clock, http, wake)
    reloader = Reloader(config, apply=rt.apply, on_error=rt.reload_failed, count=rt.metrics.reload)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        status.log_startup(rt.config, rt.router)
        for source in config.sources.values():
            if source.insecure:
                log.warning(
                    "SOURCE %r ACCEPTS UNSIGNED REQUESTS (scheme none, insecure: true): anyone who can reach "
                    "/hooks/%s can inject events",
                    source.id,
                    source.id,
                )
        if deliver:
            rt.dispatcher.start()
            rt.pruner.start()
            rt.poller.start()
        reloader.install_sighup()
        watcher = asyncio.create_task(reloader.watch()) if config.server.watch_files else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            await rt.pruner.stop()
            await rt.poller.stop()
            await rt.dispatcher.stop()
            if own_http:
                await http.aclose()
            await store.close()

    ops = Ops(rt)
    guard = guard_for(config, store, clock)  # with web.token: /metrics and /readyz details want it too
    routes = [
        # POST never gets here (HookyardApp takes it first); the route answers other methods 405.
        Route("/hooks/{source_id}", rt.ingest, methods=["POST"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/readyz", guard.ops(ops.readyz, status_is_public=True), methods=["GET"]),
        Route("/metrics", guard.ops(ops.metrics), methods=["GET"]),
    ]
    if config.web_enabled:
        log_parts = DeliveryLog(rt.store, rt.router, clock, rt.wake, rt.current_config, rt.breaker_states)
        routes += web_routes(log_parts, guard)
    app = HookyardApp(
        rt,
        reloader,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPError: _http_error,
            StarletteHTTPException: _starlette_error,
            Exception: _unexpected,
        },
    )
    app.state.hookyard = rt
    return app
