"""Run the daemon under uvicorn in this process (a leaf: the multi-process supervisor,
``receiver.daemon.supervisor``, runs this in each child)."""

from __future__ import annotations

import gc
import logging
import socket
import sys

import uvicorn

from receiver import logfmt
from receiver.app import HookyardApp, create_app
from receiver.config import Config
from receiver.daemon.httplimits import Limits, connection_budget, protocol_class, raise_file_limit
from receiver.daemon.startup import listen_socket
from receiver.logfmt import log_event


def listen(config: Config, host: str | None = None, port: int | None = None) -> socket.socket:
    """The listening socket, bound before the app starts (a busy port is one line, not a
    traceback after "startup complete"), and a log line saying where the daemon answers."""
    sock = listen_socket(host or config.server.host, port if port is not None else config.server.port)
    # uvicorn names no address when it is handed a socket: say where the daemon answers.
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    log_event(logging.getLogger("hookyard.serve"), logging.INFO, "listening", url=f"http://{shown}:{bound_port}")
    return sock


def run(config: Config, sock: socket.socket, *, log_level: str = "info") -> None:
    """One process serving on ``sock`` (``server.processes`` > 1: ``receiver.daemon.supervisor.run``)."""
    app = create_app(config)
    serve_app(app, uvicorn_config(app, config, log_level=log_level), sock)


def uvicorn_config(
    app: HookyardApp, config: Config, *, host: str | None = None, port: int | None = None, log_level: str = "info"
) -> uvicorn.Config:
    server = config.server
    limits = Limits(
        max_header_bytes=server.max_header_bytes,
        max_headers=server.max_headers,
        header_timeout=server.header_timeout_seconds,
        body_timeout=server.body_timeout_seconds,
        max_connections=connection_budget(server.max_connections, raise_file_limit()),
        on_refused=app.hookyard.metrics.connection_refused,
    )
    return uvicorn.Config(
        app,
        host=host or server.host,
        port=port if port is not None else server.port,
        log_level=log_level,
        access_log=server.access_log,
        # httptools (uvicorn's faster parser) with the limits of receiver/daemon/httplimits.py.
        # JSON lines: uvicorn's own loggers go through the root handler instead of their text one.
        log_config=None if server.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        http=protocol_class(limits),
        ws="none",
        timeout_keep_alive=server.keep_alive_seconds,
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


def configure_logging(log_level: str, log_format: str = "text") -> None:
    """Root logging to stderr as ``log_format`` (``server.log_format``); called again once the
    config is loaded, replacing the handler set up before it."""
    logging.basicConfig(level=log_level.upper(), handlers=[logfmt.handler(log_format)], force=True)
    # Client libraries log request URLs at INFO/DEBUG; a Slack webhook URL *is* a credential.
    # Our own attempt records carry what is worth knowing, redacted.
    for noisy in ("httpx", "httpcore", "apprise", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
