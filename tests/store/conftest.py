"""Fixtures for the store contract suite: every test runs once per backend.

The PostgreSQL server is real (``tests/pg.py``), started once per session; each test
gets an empty database. When the server binaries are missing the PostgreSQL half of
the suite fails loudly instead of being skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from receiver.store import Store, open_store
from tests.helpers import FakeClock
from tests.pg import PostgresServer


@dataclass
class Backend:
    """One backend on one fresh database; ``run`` opens a store, runs a coroutine, closes it."""

    name: str
    url: str
    clock: FakeClock = field(default_factory=FakeClock)

    def store(self) -> Store:
        return open_store(self.url, clock=self.clock)

    def run(self, body: Callable[[Store], Awaitable[None]]) -> None:
        async def main() -> None:
            store = self.store()
            await store.open()
            try:
                await body(store)
            finally:
                await store.close()

        asyncio.run(main())


@pytest.fixture(scope="session")
def pg_database(pg_server: PostgresServer) -> str:
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'hookyard.db'}")
    # One database for the session, emptied before each test (faster than a new database each time).
    server: PostgresServer = request.getfixturevalue("pg_server")
    url: str = request.getfixturevalue("pg_database")
    server.reset(url)
    return Backend("postgres", url)
