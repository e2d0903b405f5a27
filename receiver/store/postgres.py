"""PostgreSQL backend (psycopg 3, async): the same contract as the SQLite store.

Every operation runs in its own READ COMMITTED transaction on a connection from a
small pool; PostgreSQL's own group commit shares fsyncs between concurrent commits.

Race-freedom where READ COMMITTED alone is not enough:
* Saving an event claims its redelivery keys in ``event_keys`` first (``dedupe.py``):
  a concurrent save of the same redelivery waits on the unique key and, once the first
  commits, sees its row (each statement takes a fresh snapshot).
* Claiming locks due rows with ``FOR UPDATE SKIP LOCKED``, so several dispatchers
  (in one process or many) never claim the same delivery.
* ``finish``/``postpone`` update only while the caller still holds the lease; the
  row lock that UPDATE takes also serializes the attempt numbering.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors

from receiver.errors import StoreUnavailable
from receiver.store import dedupe, noise, runs_history, sql
from receiver.store.base import (
    DEFAULT_BUSY_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    AttemptRow,
    Claimed,
    DeliveryQuery,
    DeliveryRow,
    EventQuery,
    EventRow,
    NewDelivery,
    NewEvent,
    Outcome,
    SaveResult,
    ignore_timing,
)
from receiver.store.groups import PostgresGroups, grouped, join
from receiver.store.migrate import migrations
from receiver.store.noise_store import PostgresNoise
from receiver.store.pg_pool import Conn, Pool
from receiver.store.polls_backends import PostgresPolls
from receiver.store.postgres_web import PostgresWeb
from receiver.store.rows import DELIVERY_WIDTH as W
from receiver.store.rows import delivery_args, delivery_row, event_args, event_row, to_json
from receiver.store.runs import RunStep
from receiver.store.runs_postgres import PostgresRuns, apply_run
from receiver.store.runs_trigger import record_trigger_postgres
from receiver.store.sql import pg, pg_text
from receiver.store.steps import drive_postgres

T = TypeVar("T")

_MIGRATION_LOCK = 0x686F6F6B79617264  # "hookyard": one migrator at a time across processes
_RETRY_SQLSTATES = (pgerrors.SerializationFailure, pgerrors.DeadlockDetected)


def _parsed(value: Any) -> Any:
    """psycopg already decodes json columns."""
    return value


# Due work, plus work whose worker died (its lease ran out); rows another dispatcher is
# claiming right now are skipped, not waited for.
_CLAIM = pg(
    f"WITH due AS (SELECT id FROM deliveries WHERE ({sql.DUE}) OR ({sql.EXPIRED_LEASE}) "
    f"ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED) UPDATE deliveries d {sql.LEASE} "
    f"FROM due, events e WHERE d.id = due.id AND e.id = d.event_id RETURNING {sql.CLAIMED_COLUMNS}"
)
_INSERT_EVENT, _INSERT_DELIVERY, _FINISH, _INSERT_ATTEMPT = map(
    pg, (sql.INSERT_EVENT, sql.INSERT_DELIVERY, sql.FINISH, sql.INSERT_ATTEMPT)
)


class PostgresStore(PostgresWeb, PostgresRuns, PostgresNoise, PostgresGroups, PostgresPolls):
    """The server-backed store, for several daemons or dispatchers sharing one queue."""

    backend = "postgres"

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        pool_size: int = 8,
        probe_after: float = 5.0,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self.url = url
        self.clock = clock
        self.observe_write: Callable[[float], None] = ignore_timing  # write latency, for /metrics
        self._pool_size = pool_size
        self._probe_after = probe_after
        self._busy_timeout = busy_timeout
        self._connect_timeout = connect_timeout
        self._pool: Pool | None = None
        self._inflight: set[asyncio.Task[Any]] = set()

    # -- lifecycle -----------------------------------------------------------------
    async def open(self) -> None:
        pool = Pool(self.url, self._pool_size, self._probe_after, self._busy_timeout)
        await pool.first(self._connect_timeout)
        try:
            async with pool.connection() as conn:
                await self._migrate(conn)
        except psycopg.Error as exc:
            await pool.close()
            raise StoreUnavailable(f"cannot prepare the PostgreSQL store at {pool.where}: {pool.reason(exc)}") from None
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    def on_failure(self, callback: Callable[[str], None]) -> None:
        """Nothing to report: there is no writer task, and every failure is per operation."""

    async def close(self) -> None:
        # Writes whose callers went away still finish before the connections close.
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _migrate(self, conn: Conn) -> None:
        # A session advisory lock: two daemons starting at once apply each migration once.
        await conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT, applied_at DOUBLE PRECISION)"
            )
            cur = await conn.execute("SELECT version FROM schema_migrations")
            done = {v for (v,) in await cur.fetchall()}
            for version, name, sql in migrations("postgres"):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)  # no parameters: several statements in one go
                    await conn.execute(
                        "INSERT INTO schema_migrations VALUES (%s, %s, %s)", (version, name, self.clock())
                    )
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    # -- plumbing --------------------------------------------------------------------
    async def _tx(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``op`` in one transaction; retried on serialization failures and deadlocks."""
        if self._pool is None:
            raise RuntimeError("store is not open")
        for attempt in range(5):
            try:
                async with self._pool.connection() as conn, conn.transaction():
                    return await op(conn)
            except _RETRY_SQLSTATES:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    async def write(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``op`` in a transaction; a cancelled caller (client gone) does not cancel
        the write, and ``close`` waits for it."""
        started = time.perf_counter()
        task = asyncio.ensure_future(self._tx(op))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        result = await asyncio.shield(task)
        self.observe_write(time.perf_counter() - started)
        return result

    async def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._pool is None:
            raise RuntimeError("store is not open")
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchall()

    # -- events ----------------------------------------------------------------------
    async def ping(self) -> None:
        async def op(conn: Conn) -> None:
            cur = await conn.execute("SELECT current_setting('transaction_read_only')")
            row = await cur.fetchone()
            if row is None or row[0] != "off":
                raise RuntimeError("the database accepts no writes (read-only or a standby)")

        await self.write(op)

    async def save_event(
        self, event: NewEvent, deliveries: Sequence[NewDelivery] = (), *, run: RunStep | None = None
    ) -> SaveResult:
        return await self.write(lambda conn: self._save_event(conn, event, deliveries, run))

    async def _save_event(
        self, conn: Conn, ev: NewEvent, deliveries: Sequence[NewDelivery], run: RunStep | None = None
    ) -> SaveResult:
        original = await drive_postgres(conn, dedupe.original(ev))
        if original is not None:
            return SaveResult(original, True)
        if run is not None:  # behind the redelivery check: a redelivery changes no run
            applied = await apply_run(conn, ev, run)
            if isinstance(applied, str):  # a transition the run went through already: not stored
                await drive_postgres(conn, dedupe.release(ev))
                return SaveResult(applied, True)
            ev, deliveries = applied
        if ev.deployment is not None:  # a deployment.success event (runs/deployment.py)
            await runs_history.record_postgres(conn, ev.deployment)
        await conn.execute(_INSERT_EVENT, event_args(ev, pg_text))
        opened = await self._insert_deliveries(conn, ev.id, ev.received_at, deliveries) if deliveries else 0
        return SaveResult(ev.id, False, opened)

    @staticmethod
    async def _insert_deliveries(conn: Conn, event_id: str, now: float, deliveries: Sequence[NewDelivery]) -> int:
        """Queue an event's deliveries; grouped actions join their groups. How many groups it opened."""
        plain, joins = grouped(deliveries)
        if plain:
            async with conn.cursor() as cur:
                await cur.executemany(_INSERT_DELIVERY, [delivery_args(d, event_id, now, pg_text) for d in plain])
        return await drive_postgres(conn, join(event_id, now, joins)) if joins else 0

    async def get_event(self, event_id: str) -> EventRow | None:
        rows = await self._read(pg(sql.GET_EVENT), (event_id,))
        return event_row(rows[0], _parsed) if rows else None

    async def children(self, event_id: str, limit: int) -> list[EventRow]:
        return [event_row(r, _parsed) for r in await self._read(pg(sql.CHILDREN), (event_id, limit))]

    async def list_events(self, query: EventQuery) -> list[EventRow]:
        text, args = sql.POSTGRES.list_events(query)
        return [event_row(r, _parsed) for r in await self._read(pg(text), args)]

    async def count_events(self) -> int:
        rows = await self._read(sql.COUNT_EVENTS)
        return int(rows[0][0])

    # -- deliveries ------------------------------------------------------------------
    async def claim_due(self, now: float, limit: int, lease_seconds: float, owner: str) -> list[Claimed]:
        async def op(conn: Conn) -> list[Claimed]:
            cur = await conn.execute(_CLAIM, (now, now, limit, now + lease_seconds, owner, now))
            rows = sorted(await cur.fetchall(), key=lambda r: (r[11], r[0]))
            return [Claimed(delivery_row(r[:W], _parsed), r[W], r[W + 1], r[W + 2]) for r in rows]

        return await self.write(op)

    async def postpone(self, delivery_id: str, owner: str, until: float) -> bool:
        return await self._update(pg(sql.POSTPONE), (until, self.clock(), delivery_id, owner))

    async def renew(self, delivery_id: str, owner: str, until: float) -> bool:
        return await self._update(pg(sql.RENEW_LEASE), (until, delivery_id, owner))

    async def _update(self, statement: str, args: Sequence[Any]) -> bool:
        """Run one UPDATE; whether it changed exactly one row."""

        async def op(conn: Conn) -> bool:
            return (await conn.execute(statement, args)).rowcount == 1

        return await self.write(op)

    async def finish(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        async def op(conn: Conn) -> bool:
            a = outcome.attempt
            cur = await conn.execute(
                _FINISH,
                (outcome.state.value, outcome.next_attempt_at, pg_text(outcome.last_error), a.finished_at,
                 delivery_id, owner),
            )  # fmt: skip
            if cur.rowcount != 1:
                return False
            await conn.execute(
                _INSERT_ATTEMPT,
                (delivery_id, a.started_at, a.finished_at, a.duration_ms, a.outcome, a.status_code,
                 pg_text(a.error_class), pg_text(a.reason), pg_text(a.response_excerpt), delivery_id),
            )  # fmt: skip
            if outcome.derived is not None:
                event, deliveries = outcome.derived
                await self._save_event(conn, event, deliveries)
            if outcome.started_run is not None:
                await record_trigger_postgres(conn, outcome.started_run)
            if outcome.repeat is not None:
                await drive_postgres(conn, noise.record(outcome.repeat))
            if outcome.quieted_by is not None:
                await conn.execute(pg(sql.QUIETED_BY), (outcome.quieted_by, delivery_id))
            return True

        return await self.write(op)

    async def newer_succeeded(self, ordering_key: str, ordering_time: float, delivery_id: str) -> bool:
        args = (ordering_key, delivery_id, ordering_time, ordering_time, delivery_id)
        return bool(await self._read(pg(sql.NEWER_SUCCEEDED), args))

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        rows = await self._read(pg(sql.GET_DELIVERY), (delivery_id,))
        return delivery_row(rows[0], _parsed) if rows else None

    async def list_deliveries(self, query: DeliveryQuery) -> list[DeliveryRow]:
        text, args = sql.list_deliveries(query)
        return [delivery_row(r, _parsed) for r in await self._read(pg(text), args)]

    async def attempts_for(self, delivery_ids: Sequence[str]) -> dict[str, list[AttemptRow]]:
        ids = list(delivery_ids)
        out: dict[str, list[AttemptRow]] = {i: [] for i in ids}
        if ids:
            for r in await self._read(pg(sql.attempts_of(len(ids))), ids):
                out[r[0]].append(AttemptRow(*r))
        return out

    async def requeue(self, delivery_id: str, now: float, params: dict[str, Any] | None = None) -> bool:
        return await self._update(
            pg(sql.REQUEUE), (now, now, now, None if params is None else to_json(params), delivery_id)
        )

    async def add_deliveries(self, event_id: str, deliveries: Sequence[NewDelivery], now: float) -> None:
        await self.write(lambda conn: self._insert_deliveries(conn, event_id, now, deliveries))

    async def delivery_counts(self) -> dict[str, int]:
        return {s: int(n) for s, n in await self._read(sql.DELIVERY_COUNTS)}

    async def oldest_due(self, now: float) -> float | None:
        rows = await self._read(pg(sql.OLDEST_DUE), (now, now))
        return None if not rows or rows[0][0] is None else float(rows[0][0])
