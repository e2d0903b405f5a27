"""PostgreSQL-only behaviour: the connection pool against a server that drops connections."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest

from receiver.errors import StoreBusy
from receiver.store.postgres import PostgresStore
from tests.pg import PostgresServer
from tests.store.test_contract import event


@pytest.fixture
def pg_url(pg_server: PostgresServer, pg_database: str) -> Iterator[str]:
    pg_server.reset(pg_database)
    yield pg_database
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{pg_database.rsplit("/", 1)[1]}" RESET default_transaction_read_only')


def drop_connections(server: PostgresServer, url: str, *, read_only: bool = False) -> int:
    """Kill every server process serving the test database (as a restart or a failover would)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server.admin_url, autocommit=True) as admin:
        if read_only:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_pool_replaces_connections_the_server_dropped(pg_server: PostgresServer, pg_url: str) -> None:
    async def main() -> None:
        store = PostgresStore(pg_url, probe_after=0.0)
        await store.open()
        try:
            await asyncio.gather(*(store.save_event(event(f"evt_{i}")) for i in range(4)))
            assert drop_connections(pg_server, pg_url) >= 1
            assert (await store.save_event(event("evt_after"))).duplicate is False
            assert await store.count_events() == 5
        finally:
            await store.close()

    asyncio.run(main())


def test_ping_refuses_a_read_only_database(pg_server: PostgresServer, pg_url: str) -> None:
    async def main() -> None:
        store = PostgresStore(pg_url, probe_after=0.0)
        await store.open()
        try:
            await store.ping()
            drop_connections(pg_server, pg_url, read_only=True)  # new sessions are read-only, like a standby's
            with pytest.raises(RuntimeError, match="accepts no writes"):
                await store.ping()
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                await store.save_event(event("evt_1"))
        finally:
            await store.close()

    asyncio.run(main())


def test_a_write_blocked_by_another_sessions_lock_is_store_busy_then_succeeds(pg_url: str) -> None:
    async def main() -> None:
        store = PostgresStore(pg_url, busy_timeout=0.5)
        await store.open()
        try:
            # An operator's psql session holding a table lock in an open transaction.
            async with await psycopg.AsyncConnection.connect(pg_url) as other:
                await other.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # blocks writes, not reads
                with pytest.raises(StoreBusy) as busy:
                    await asyncio.wait_for(store.save_event(event("evt_1")), 30)
                assert (busy.value.status, busy.value.code, busy.value.retry_after) == (503, "store_busy", 1)
                assert await store.count_events() == 0  # nothing half-stored
                await other.rollback()
            assert (await store.save_event(event("evt_1"))).duplicate is False  # the same pool, recovered
            assert await store.count_events() == 1
        finally:
            await store.close()

    asyncio.run(main())


def test_waiting_for_a_free_pooled_connection_is_bounded_too(pg_url: str) -> None:
    async def main() -> None:
        store = PostgresStore(pg_url, pool_size=1, busy_timeout=0.5)
        await store.open()
        try:
            assert store._pool is not None
            async with store._pool.connection():  # the only connection, held (as by a slow operation)
                with pytest.raises(StoreBusy) as busy:
                    await asyncio.wait_for(store.save_event(event("evt_1")), 30)
                assert "all 1 connections to PostgreSQL stayed in use for over 0.5 s" in busy.value.message
            assert (await store.save_event(event("evt_1"))).duplicate is False
        finally:
            await store.close()

    asyncio.run(main())
