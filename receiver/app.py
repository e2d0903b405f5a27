"""The ASGI application: routes, error handling, lifespan.

``create_app`` takes its edges as arguments (store, clock, router) so tests can use a
real store on a temp file and a fake clock. Every error a client can cause becomes a
4xx ``{"error": ..., "code": ...}``; nothing a client sends produces a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver import status
from receiver.config import Config
from receiver.delivery.dispatcher import Dispatcher
from receiver.errors import HTTPError, StoreBusy
from receiver.hook_route import Receive, Scope, Send, handle_hook, hook_source_id
from receiver.ingest import Ingest
from receiver.metrics import Metrics
from receiver.pruner import Pruner
from receiver.reload import Reloader
from receiver.routing import Router
from receiver.sinks.client import HttpClient
from receiver.store import open_configured
from receiver.store.base import Store

log = logging.getLogger("hookyard.app")

_STARLETTE_CODES = {404: "not_found", 405: "method_not_allowed"}
# /readyz answers within this even while a write waits for the store's lock (probes time out).
READY_STORE_WAIT_SECONDS = 2.0


def build_sinks(config: Config, http: HttpClient) -> dict[str, Any]:
    """Live sink objects for every configured sink (config was validated at load)."""
    from receiver.sinks import SINKS

    return {sid: SINKS[s.kind].create(sid, s.options, http) for sid, s in config.sinks.items()}


def error_response(status: int, code: str, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


class Hookyard:
    """Holds the running parts; ``app.state.hookyard`` in the Starlette app."""

    def __init__(
        self,
        config: Config,
        store: Store,
        router: Router,
        clock: Callable[[], float],
        http: HttpClient,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.router = router
        self.clock = clock
        self.http = http
        self.metrics = Metrics()
        self.sinks = build_sinks(config, http)
        router.sinks = dict(self.sinks)
        self.dispatcher = Dispatcher(
            store,
            self.sinks,
            {sid: s.options for sid, s in config.sinks.items()},
            router,
            config.delivery,
            clock=clock,
            metrics=self.metrics,
        )
        if hasattr(store, "observe_write"):
            store.observe_write = self.metrics.store_write
        # storage.retention: runs beside the dispatcher, wherever deliveries are sent.
        self.pruner = Pruner(store, config.storage.retention, clock=clock, metrics=self.metrics)
        # Tells the dispatcher new work is due: in this process, or in the dispatcher process.
        self.wake = wake or self.dispatcher.notify
        self.ingest = Ingest(config, store, router, self.metrics, clock, on_stored=self.wake)
        self.started_at = clock()
        # Why this process can no longer serve (its store writer died), once it cannot;
        # ``on_fatal`` then stops it (``serve`` makes that a non-zero exit).
        self.fatal: str | None = None
        self.on_fatal: Callable[[], None] = lambda: None
        store.on_failure(self.store_failed)

    def store_failed(self, reason: str) -> None:
        self.fatal = reason
        log.error("%s; stopping so that a supervisor restarts the daemon", reason)
        self.on_fatal()

    async def hook(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /hooks/{source_id}`` (a plain ASGI endpoint: see ``hook_route``)."""
        source_id = scope["path_params"]["source_id"] if "path_params" in scope else hook_source_id(scope)
        await handle_hook(self.ingest, self.config.server.max_body_bytes, source_id or "", scope, receive, send)

    async def healthz(self, request: Request) -> Response:
        """Able to serve: the event loop answered (this response) and the store can still write."""
        if self.fatal is not None:
            return JSONResponse({"status": "failing", "error": self.fatal}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        checks: dict[str, Any] = {"config": {"status": "ok", "file": str(self.config.path)}}
        ready = True
        wait = min(READY_STORE_WAIT_SECONDS, self.config.storage.busy_timeout_seconds + 1)
        try:
            await asyncio.wait_for(self.store.ping(), timeout=wait)
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
        rules: dict[str, Any] = {"status": "ok", "version": getattr(self.router.ruleset, "version", None)}
        if self.router.reload_error:
            # The old rules keep running; readiness stays up so no webhook is refused.
            rules.update(status="stale", error=self.router.reload_error)
        checks["rules"] = rules
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    async def metrics_endpoint(self, request: Request) -> Response:
        if self.dispatcher.running:
            self.dispatcher.breaker_states()  # an open breaker whose cooldown ended shows half-open
        queue = await status.queue_snapshot(self.store, self.clock())
        return Response(self.metrics.render(queue), media_type="text/plain; version=0.0.4")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(exc.status, exc.code, exc.message, exc.retry_after)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STARLETTE_CODES.get(exc.status_code, "http_error")
    return JSONResponse({"error": exc.detail, "code": code}, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; the request was not stored")


class _ASGIEndpoint:
    """Makes Starlette's Route treat a bound method as a plain ASGI app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


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
    webhook path skips the middleware stack and router (see ``hook_route``)."""

    def __init__(self, hy: Hookyard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hookyard = hy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source_id = hook_source_id(scope)
        if source_id is None:
            await super().__call__(scope, receive, _nosniff(send))
        else:  # handle_hook's answers carry nosniff themselves
            await handle_hook(
                self.hookyard.ingest, self.hookyard.config.server.max_body_bytes, source_id, scope, receive, send
            )


def create_app(
    config: Config,
    *,
    store: Store | None = None,
    clock: Callable[[], float] | None = None,
    router: Router | None = None,
    http: HttpClient | None = None,
    deliver: bool = True,
    wake: Callable[[], None] | None = None,
) -> HookyardApp:
    """The app. ``deliver=False`` runs no dispatcher here (``wake`` then tells the one
    running elsewhere about new work)."""
    clock = clock or time.time
    store = store or open_configured(config, clock=clock)
    router = router or Router(None)
    own_http = http is None
    http = http or HttpClient()
    hy = Hookyard(config, store, router, clock, http, wake)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        status.log_startup(hy.config, hy.router)
        for source in config.sources.values():
            if source.insecure:
                log.warning(
                    "SOURCE %r ACCEPTS UNSIGNED REQUESTS (scheme none, insecure: true): anyone who can reach "
                    "/hooks/%s can inject events",
                    source.id,
                    source.id,
                )
        if deliver:
            hy.dispatcher.start()
            hy.pruner.start()
        reloader = Reloader(hy)
        reloader.install_sighup()
        watcher = asyncio.create_task(reloader.watch()) if config.server.watch_files else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            await hy.pruner.stop()
            await hy.dispatcher.stop()
            if own_http:
                await http.aclose()
            await store.close()

    from receiver.web import guard_for
    from receiver.web import routes as web_routes

    guard = guard_for(hy)  # with web.token: /metrics and /readyz details want it too
    routes = [
        Route("/hooks/{source_id}", _ASGIEndpoint(hy.hook), methods=["POST"]),
        Route("/healthz", hy.healthz, methods=["GET"]),
        Route("/readyz", guard.ops(hy.readyz, status_is_public=True), methods=["GET"]),
        Route("/metrics", guard.ops(hy.metrics_endpoint), methods=["GET"]),
    ]
    if config.web_enabled:
        routes += web_routes(hy, guard)
    app = HookyardApp(
        hy,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPError: _http_error,
            StarletteHTTPException: _starlette_error,
            Exception: _unexpected,
        },
    )
    app.state.hookyard = hy
    return app
