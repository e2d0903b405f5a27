"""Storage backends behind one interface (:class:`Store`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from receiver.errors import StoreUnavailable
from receiver.store.base import DEFAULT_BUSY_TIMEOUT, DEFAULT_CONNECT_TIMEOUT
from receiver.store.contract import Store

__all__ = ["Store", "open_configured", "open_store", "prepare_store"]


# What the store reads of a loaded config (``receiver.config.Config`` has it): the config
# module sits above the store (it checks storage settings), so the store names only these.
class _Timeouts(Protocol):
    @property
    def busy_timeout_seconds(self) -> float: ...
    @property
    def connect_timeout_seconds(self) -> float: ...


class Configured(Protocol):
    @property
    def storage_url(self) -> str: ...
    @property
    def storage(self) -> _Timeouts: ...


def open_configured(config: Configured, *, clock: Callable[[], float] = time.time) -> Store:
    """The store of a loaded config, with its ``storage:`` timeouts."""
    return open_store(
        config.storage_url,
        clock=clock,
        busy_timeout=config.storage.busy_timeout_seconds,
        connect_timeout=config.storage.connect_timeout_seconds,
    )


async def prepare_store(config: Configured) -> None:
    """Open the configured store (creating it, applying migrations) and close it again, so a
    store that cannot be opened is one StoreUnavailable line before anything listens."""
    store = open_configured(config)
    await store.open()
    await store.close()


def open_store(
    url: str,
    *,
    clock: Callable[[], float] = time.time,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Store:
    """The store for a config ``storage.url`` (already resolved to an absolute path).

    ``busy_timeout``: how long a write waits for a lock another process holds before it
    fails with StoreBusy. ``connect_timeout``: how long ``open`` keeps trying to reach a
    PostgreSQL server. ``open`` raises StoreUnavailable (one line, no credentials) when the
    store cannot be opened."""
    if url.startswith("sqlite:///"):
        from receiver.store.sqlite import SqliteStore

        return SqliteStore(url[len("sqlite:///") :], clock=clock, busy_timeout=busy_timeout)
    if url.startswith(("postgres://", "postgresql://")):
        from receiver.store.postgres import PostgresStore

        return PostgresStore(url, clock=clock, busy_timeout=busy_timeout, connect_timeout=connect_timeout)
    raise StoreUnavailable("storage url must start with sqlite:/// or postgresql://")
