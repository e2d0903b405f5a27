"""Run the daemon under uvicorn."""

from __future__ import annotations

import gc

import uvicorn

from receiver.app import create_app
from receiver.config import Config
from receiver.routing import Router, load_rules_for


def run(config: Config, *, host: str | None = None, port: int | None = None, log_level: str = "info") -> None:
    router = Router(load_rules_for(config))
    app = create_app(config, router=router)
    uv = uvicorn.Config(
        app,
        host=host or config.server.host,
        port=port if port is not None else config.server.port,
        log_level=log_level,
        access_log=config.server.access_log,
        # Bound the time a slow client may hold a connection open.
        timeout_keep_alive=30,
    )
    # Everything loaded so far lives as long as the process: keep the cyclic GC from
    # walking it on every full collection (those walks are latency spikes under load).
    gc.collect()
    gc.freeze()
    # Each request allocates many short-lived objects; collecting young objects every
    # 700 allocations (the default) costs more than the few cycles it ever finds.
    gc.set_threshold(50_000, 20, 20)
    uvicorn.Server(uv).run()
