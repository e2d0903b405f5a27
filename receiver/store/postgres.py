"""PostgreSQL backend (psycopg 3, async): the same contract as the SQLite store.

Every operation runs in its own READ COMMITTED transaction on a connection from a
small pool; PostgreSQL's own group commit shares fsyncs between concurrent commits.

Race-freedom where READ COMMITTED alone is not enough:
* Saving an event first takes transaction-scoped advisory locks on each of its
  dedupe keys and (with a window) on its body hash, in sorted order (no deadlocks).
  A concurrent save of the same redelivery waits on the lock and, once the first
  commits, sees its row: each statement takes a fresh snapshot, and locks are
  released only after the commit is visible. The unique key on ``event_keys`` stays
  as a backstop.
* Claiming locks due rows with ``FOR UPDATE SKIP LOCKED``, so several dispatchers
  (in one process or many) never claim the same delivery.
* ``finish``/``postpone`` update only while the caller still holds the lease; the
  row lock that UPDATE takes also serializes the attempt numbering.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors

from receiver.errors import StoreUnavailable
from receiver.store import runs_history
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
from receiver.store.event_filter import event_where
from receiver.store.migrate import migrations
from receiver.store.pg_pool import Conn, Pool
from receiver.store.postgres_web import PostgresWeb
from receiver.store.rows import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    OLDEST_DUE,
    RENEW_LEASE,
    delivery_row,
    envelope_json,
    event_row,
)
from receiver.store.runs import RunStep
from receiver.store.runs_postgres import PostgresRuns, apply_run
from receiver.store.runs_trigger import record_trigger_postgres

T = TypeVar("T")

_D_COLUMNS = ", ".join("d." + c.strip() for c in DELIVERY_COLUMNS.split(","))
_MIGRATION_LOCK = 0x686F6F6B79617264  # "hookyard": one migrator at a time across processes
_RETRY_SQLSTATES = (pgerrors.SerializationFailure, pgerrors.DeadlockDetected)


def _parsed(value: Any) -> Any:
    """psycopg already decodes json columns."""
    return value


def _lock_id(*parts: str) -> int:
    """A signed 64-bit advisory lock id for a (namespace, source, value) triple."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; free text from outside (subjects, responses,
    error reasons) gets U+FFFD instead, so the row is stored rather than refused."""
    return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


def _delivery_args(d: NewDelivery, event_id: str, now: float) -> tuple[Any, ...]:
    params = None if d.params is None else json.dumps(d.params)
    return (
        d.id, event_id, d.rule, d.action_index, d.sink_id, d.emit, params, d.state.value, now, now, now,
        _text(d.last_error), d.ordering_key, now if d.ordering_key else None, now, d.replay_of,
    )  # fmt: skip


class PostgresStore(PostgresWeb, PostgresRuns):
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
        locks = {_lock_id("key", ev.source_id, key) for key in ev.dedupe_keys}
        if ev.dedupe_window > 0:
            locks.add(_lock_id("body", ev.source_id, ev.body_sha256))
        if locks:  # unnest yields the sorted ids in order: one lock order everywhere, so no deadlocks
            await conn.execute(
                "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", (sorted(locks),)
            )
        for key in ev.dedupe_keys:  # in order: the first known key names the original
            cur = await conn.execute(
                "SELECT event_id FROM event_keys WHERE source_id = %s AND key = %s", (ev.source_id, key)
            )
            row = await cur.fetchone()
            if row:
                return SaveResult(row[0], True)
        if ev.dedupe_window > 0:
            cur = await conn.execute(
                "SELECT id FROM events WHERE source_id = %s AND body_sha256 = %s AND received_at >= %s "
                "ORDER BY received_at LIMIT 1",
                (ev.source_id, ev.body_sha256, ev.received_at - ev.dedupe_window),
            )
            row = await cur.fetchone()
            if row:
                return SaveResult(row[0], True)
        if run is not None:  # behind the redelivery check: a redelivery changes no run
            ev, deliveries = await apply_run(conn, ev, run)
        if ev.deployment is not None:  # a deployment.success event (runs/deployment.py)
            await runs_history.record_postgres(conn, ev.deployment)
        await conn.execute(
            "INSERT INTO events (id, source_id, kind, type, subject, received_at, body_sha256, headers, body, "
            "envelope, normalize_error, parent_id, correlation_id, depth, rules_version, matched_rules) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                ev.id, ev.source_id, ev.kind, _text(ev.type), _text(ev.subject), ev.received_at, ev.body_sha256,
                json.dumps(ev.headers), ev.body, envelope_json(ev.envelope), _text(ev.normalize_error),
                ev.parent_id, ev.correlation_id, ev.depth, ev.rules_version, json.dumps(ev.matched_rules),
            ),
        )  # fmt: skip
        if ev.dedupe_keys:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO event_keys (source_id, key, event_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    [(ev.source_id, key, ev.id) for key in ev.dedupe_keys],
                )
        if deliveries:
            await self._insert_deliveries(conn, ev.id, ev.received_at, deliveries)
        return SaveResult(ev.id, False)

    @staticmethod
    async def _insert_deliveries(conn: Conn, event_id: str, now: float, deliveries: Sequence[NewDelivery]) -> None:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO deliveries (id, event_id, rule, action_index, sink_id, emit, params, state, attempts, "
                "created_at, updated_at, next_attempt_at, last_error, ordering_key, ordering_time, budget_start, "
                "replay_of) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s)",
                [_delivery_args(d, event_id, now) for d in deliveries],
            )

    async def get_event(self, event_id: str) -> EventRow | None:
        rows = await self._read(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s", (event_id,))
        return event_row(rows[0], _parsed) if rows else None

    async def list_events(self, query: EventQuery) -> list[EventRow]:
        where, args = event_where(query, "%s", "(envelope -> 'data' -> 'run' ->> 'outcome')")
        sql = f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY received_at DESC, id DESC LIMIT %s"
        return [event_row(r, _parsed) for r in await self._read(sql, [*args, query.limit])]

    async def count_events(self) -> int:
        rows = await self._read("SELECT COUNT(*) FROM events")
        return int(rows[0][0])

    # -- deliveries ------------------------------------------------------------------
    async def claim_due(self, now: float, limit: int, lease_seconds: float, owner: str) -> list[Claimed]:
        async def op(conn: Conn) -> list[Claimed]:
            # Due work, plus work whose worker died (its lease ran out); rows another
            # dispatcher is claiming right now are skipped, not waited for.
            cur = await conn.execute(
                "WITH due AS (SELECT id FROM deliveries WHERE "
                "(state IN ('queued', 'retrying') AND next_attempt_at <= %s) "
                "OR (state = 'in_progress' AND lease_until < %s) "
                "ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) "
                "UPDATE deliveries d SET state = 'in_progress', lease_until = %s, lease_owner = %s, updated_at = %s "
                "FROM due, events e WHERE d.id = due.id AND e.id = d.event_id "
                f"RETURNING {_D_COLUMNS}, e.envelope, e.depth, e.source_id",
                (now, now, limit, now + lease_seconds, owner, now),
            )
            rows = sorted(await cur.fetchall(), key=lambda r: (r[11], r[0]))
            return [Claimed(delivery_row(r[:19], _parsed), r[19], r[20], r[21]) for r in rows]

        return await self.write(op)

    async def postpone(self, delivery_id: str, owner: str, until: float) -> bool:
        async def op(conn: Conn) -> bool:
            cur = await conn.execute(
                "UPDATE deliveries SET state = CASE WHEN attempts = 0 THEN 'queued' ELSE 'retrying' END, "
                "next_attempt_at = %s, lease_until = NULL, lease_owner = NULL, updated_at = %s "
                "WHERE id = %s AND lease_owner = %s AND state = 'in_progress'",
                (until, self.clock(), delivery_id, owner),
            )
            return cur.rowcount == 1

        return await self.write(op)

    async def renew(self, delivery_id: str, owner: str, until: float) -> bool:
        async def op(conn: Conn) -> bool:
            cur = await conn.execute(RENEW_LEASE, (until, delivery_id, owner))
            return cur.rowcount == 1

        return await self.write(op)

    async def finish(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        async def op(conn: Conn) -> bool:
            a = outcome.attempt
            cur = await conn.execute(
                "UPDATE deliveries SET state = %s, attempts = attempts + 1, next_attempt_at = COALESCE(%s, "
                "next_attempt_at), last_error = %s, lease_until = NULL, lease_owner = NULL, updated_at = %s "
                "WHERE id = %s AND lease_owner = %s AND state = 'in_progress'",
                (outcome.state.value, outcome.next_attempt_at, _text(outcome.last_error), a.finished_at,
                 delivery_id, owner),
            )  # fmt: skip
            if cur.rowcount != 1:
                return False
            # The UPDATE holds the row lock: no concurrent finish can number the same attempt.
            await conn.execute(
                f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) SELECT %s, COUNT(*) + 1, %s, %s, %s, %s, %s, %s, %s, %s "
                "FROM attempts WHERE delivery_id = %s",
                (delivery_id, a.started_at, a.finished_at, a.duration_ms, a.outcome, a.status_code,
                 _text(a.error_class), _text(a.reason), _text(a.response_excerpt), delivery_id),
            )  # fmt: skip
            if outcome.derived is not None:
                event, deliveries = outcome.derived
                await self._save_event(conn, event, deliveries)
            if outcome.started_run is not None:
                await record_trigger_postgres(conn, outcome.started_run)
            return True

        return await self.write(op)

    async def newer_succeeded(self, ordering_key: str, ordering_time: float, delivery_id: str) -> bool:
        rows = await self._read(
            "SELECT 1 FROM deliveries WHERE ordering_key = %s AND state = 'succeeded' AND id != %s "
            "AND (ordering_time > %s OR (ordering_time = %s AND id > %s)) LIMIT 1",
            (ordering_key, delivery_id, ordering_time, ordering_time, delivery_id),
        )
        return bool(rows)

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        rows = await self._read(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = %s", (delivery_id,))
        return delivery_row(rows[0], _parsed) if rows else None

    async def list_deliveries(self, query: DeliveryQuery) -> list[DeliveryRow]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("state", query.state), ("event_id", query.event_id), ("sink_id", query.sink_id)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT %s"
        args.append(query.limit)
        return [delivery_row(r, _parsed) for r in await self._read(sql, args)]

    async def attempts_for(self, delivery_ids: Sequence[str]) -> dict[str, list[AttemptRow]]:
        ids = list(delivery_ids)
        out: dict[str, list[AttemptRow]] = {i: [] for i in ids}
        if ids:
            rows = await self._read(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ANY(%s) ORDER BY delivery_id, number",
                (ids,),
            )
            for r in rows:
                out[r[0]].append(AttemptRow(*r))
        return out

    async def requeue(self, delivery_id: str, now: float, params: dict[str, Any] | None = None) -> bool:
        new_params = None if params is None else json.dumps(params)

        async def op(conn: Conn) -> bool:
            cur = await conn.execute(
                "UPDATE deliveries SET state = 'queued', attempts = 0, next_attempt_at = %s, budget_start = %s, "
                "updated_at = %s, lease_until = NULL, lease_owner = NULL, params = COALESCE(%s::json, params) "
                "WHERE id = %s AND state = 'dead'",
                (now, now, now, new_params, delivery_id),
            )
            return cur.rowcount == 1

        return await self.write(op)

    async def add_deliveries(self, event_id: str, deliveries: Sequence[NewDelivery], now: float) -> None:
        await self.write(lambda conn: self._insert_deliveries(conn, event_id, now, deliveries))

    async def delivery_counts(self) -> dict[str, int]:
        rows = await self._read("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        return {s: int(n) for s, n in rows}

    async def oldest_due(self, now: float) -> float | None:
        rows = await self._read(OLDEST_DUE, (now, now))
        return None if not rows or rows[0][0] is None else float(rows[0][0])
