"""Run the daemon under uvicorn: one process, or several (``server.processes``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import sys

import uvicorn

from receiver.app import HookyardApp, create_app
from receiver.config import Config
from receiver.routing import Router, load_rules_for
from receiver.store import prepare_store


def run(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    processes: int | None = None,
) -> None:
    processes = processes or config.server.processes
    if processes > 1:
        from receiver.workers import run_workers

        run_workers(config, receivers=processes - 1, host=host, port=port, log_level=log_level)
        return
    # A store that cannot be opened is one line (StoreUnavailable), not a lifespan traceback.
    asyncio.run(prepare_store(config))
    app = create_app(config, router=Router(load_rules_for(config)))
    serve_app(app, uvicorn_config(app, config, host=host, port=port, log_level=log_level))


def uvicorn_config(
    app: HookyardApp, config: Config, *, host: str | None = None, port: int | None = None, log_level: str = "info"
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host or config.server.host,
        port=port if port is not None else config.server.port,
        log_level=log_level,
        access_log=config.server.access_log,
        # Bound the time a slow client may hold a connection open.
        timeout_keep_alive=30,
    )


def serve_app(app: HookyardApp, uv: uvicorn.Config, sock: socket.socket | None = None) -> None:
    tune_gc()
    server = uvicorn.Server(uv)
    # The store stopped working: stop serving, then exit non-zero so that a supervisor
    # (systemd, the server.processes supervisor) restarts the daemon instead of it living on deaf.
    app.hookyard.on_fatal = lambda: setattr(server, "should_exit", True)
    server.run(sockets=[sock] if sock is not None else None)
    if app.hookyard.fatal is not None:
        sys.exit(1)


def tune_gc() -> None:
    # Everything loaded so far lives as long as the process: keep the cyclic GC from
    # walking it on every full collection (those walks are latency spikes under load).
    gc.collect()
    gc.freeze()
    # Each request allocates many short-lived objects; collecting young objects every
    # 700 allocations (the default) costs more than the few cycles it ever finds.
    gc.set_threshold(50_000, 20, 20)


def configure_logging(log_level: str) -> None:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # Client libraries log request URLs at INFO/DEBUG; a Slack webhook URL *is* a credential.
    # Our own attempt records carry what is worth knowing, redacted.
    for noisy in ("httpx", "httpcore", "apprise", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
