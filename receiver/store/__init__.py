"""Storage backends behind one interface (``base.Store``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from receiver.store.base import Store


def open_store(url: str, *, clock: Callable[[], float] = time.time) -> Store:
    """The store for a config ``storage.url`` (already resolved to an absolute path)."""
    if url.startswith("sqlite:///"):
        from receiver.store.sqlite import SqliteStore

        return SqliteStore(url[len("sqlite:///") :], clock=clock)
    if url.startswith(("postgres://", "postgresql://")):
        from receiver.store.postgres import PostgresStore

        return PostgresStore(url, clock=clock)
    raise ValueError("storage url must start with sqlite:/// or postgresql://")
