"""What the running daemon reports about itself: the start-up log line and the queue gauges.

Kept out of ``app.py`` so the app only wires them: ``log_startup`` once the store is open,
``queue_snapshot`` on each ``/metrics`` scrape.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from receiver.config import Config
from receiver.logfmt import log_event
from receiver.metrics import QueueSnapshot
from receiver.rules import Router
from receiver.store.base import DeliveryState

log = logging.getLogger("hookyard.app")

SCRAPE_TIMEOUT_SECONDS = 5.0


def storage_kind(url: str) -> str:
    """The store as a log may show it: the SQLite path, or PostgreSQL's host and database (no user, no password)."""
    if url.startswith("sqlite:///"):
        return "sqlite:" + url[len("sqlite:///") :]
    parts = urlsplit(url)
    return f"postgresql:{parts.hostname or ''}:{parts.port or 5432}{parts.path}"


def log_startup(config: Config, router: Router) -> None:
    ruleset = router.ruleset
    log_event(
        log,
        logging.INFO,
        "startup",
        config=config.path,
        storage=storage_kind(config.storage_url),
        sources=sorted(config.sources),
        sinks=sorted(config.sinks),
        rules=len(ruleset.rules) if ruleset is not None else 0,
        rule_files=[str(p) for p in config.rule_paths],
        rules_version=ruleset.version if ruleset is not None else None,
    )


async def queue_snapshot(store: Any, now: float) -> QueueSnapshot | None:
    """The queue gauges read from the store; None (and a log line) when it does not answer in time."""
    try:
        depth, oldest = await asyncio.wait_for(
            asyncio.gather(store.delivery_counts(), store.oldest_due(now)), timeout=SCRAPE_TIMEOUT_SECONDS
        )
    except Exception as exc:
        log.warning("metrics: reading the queue gauges failed (%s); they are left out", type(exc).__name__)
        return None
    every_state = {state.value: int(depth.get(state.value, 0)) for state in DeliveryState}  # zeros too
    return QueueSnapshot(every_state, max(0.0, now - oldest) if oldest is not None else 0.0)
