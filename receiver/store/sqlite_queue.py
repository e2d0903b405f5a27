"""The delivery-queue half of the SQLite store: claim with a lease, postpone, finish,
requeue, and the reads of the delivery log (statements in ``sql.py``). Mixed into
:class:`SqliteStore`, which provides the connection plumbing and the event writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from receiver import jsonutil
from receiver.store import noise, sql
from receiver.store.base import (
    AttemptRow,
    Claimed,
    DeliveryQuery,
    DeliveryRow,
    NewDelivery,
    NewEvent,
    Outcome,
    SaveResult,
)
from receiver.store.groups import grouped, join
from receiver.store.rows import DELIVERY_WIDTH as W
from receiver.store.rows import delivery_args, delivery_row, to_json
from receiver.store.runs_trigger import record_trigger_sqlite
from receiver.store.steps import drive_sqlite

T = TypeVar("T")

# The due deliveries in due order, through their partial index (SQLite's planner may not pick it).
_DUE = f"SELECT id FROM deliveries INDEXED BY deliveries_due WHERE {sql.DUE} ORDER BY next_attempt_at LIMIT ?"


def insert_deliveries(conn: sqlite3.Connection, event_id: str, now: float, deliveries: Sequence[NewDelivery]) -> int:
    """Queue ``deliveries`` of an event (in the caller's transaction); grouped actions join their
    groups instead. Returns how many groups the event opened."""
    plain, joins = grouped(deliveries)
    conn.executemany(sql.INSERT_DELIVERY, [delivery_args(d, event_id, now) for d in plain])
    return drive_sqlite(conn, join(event_id, now, joins)) if joins else 0


class SqliteQueue:
    clock: Callable[[], float]

    if TYPE_CHECKING:  # provided by SqliteStore

        async def write(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        def _save_event(
            self, conn: sqlite3.Connection, ev: NewEvent, deliveries: Sequence[NewDelivery]
        ) -> SaveResult: ...

    # DISPATCHER_WRITES: leases and attempt records are answered once committed, without
    # waiting for the fsync. A power cut could undo one, and the delivery would then be
    # sent again (same Idempotency-Key), exactly as after a crash mid-send; a process
    # crash undoes nothing. Waiting would cost each delivery two fsync round trips.
    async def claim_due(self, now: float, limit: int, lease_seconds: float, owner: str) -> list[Claimed]:
        def op(conn: sqlite3.Connection) -> list[Claimed]:
            # Work whose worker died (its lease ran out) first, then due work; each query
            # walks only its partial index. The single writer makes read-then-lease atomic.
            ids = [r[0] for r in conn.execute(sql.EXPIRED_LEASES, (now, limit))]
            if len(ids) < limit:
                ids += [r[0] for r in conn.execute(_DUE, (now, limit - len(ids)))]
            if not ids:
                return []
            marks = sql.marks(len(ids))
            lease = (now + lease_seconds, owner, now)
            conn.execute(f"UPDATE deliveries {sql.LEASE} WHERE id IN ({marks})", (*lease, *ids))
            rows = conn.execute(
                f"SELECT {sql.CLAIMED_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id "
                f"WHERE d.id IN ({marks}) ORDER BY d.next_attempt_at",
                ids,
            )
            loads = jsonutil.loads
            return [Claimed(delivery_row(r[:W], loads), loads(r[W]), r[W + 1], r[W + 2]) for r in rows]

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def postpone(self, delivery_id: str, owner: str, until: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql.POSTPONE, (until, self.clock(), delivery_id, owner)).rowcount == 1

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def renew(self, delivery_id: str, owner: str, until: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql.RENEW_LEASE, (until, delivery_id, owner)).rowcount == 1

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def finish(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            a = outcome.attempt
            cur = conn.execute(
                sql.FINISH,
                (outcome.state.value, outcome.next_attempt_at, outcome.last_error, a.finished_at, delivery_id, owner),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                sql.INSERT_ATTEMPT,
                (delivery_id, a.started_at, a.finished_at, a.duration_ms, a.outcome, a.status_code, a.error_class,
                 a.reason, a.response_excerpt, delivery_id),
            )  # fmt: skip
            if outcome.derived is not None:
                event, deliveries = outcome.derived
                self._save_event(conn, event, deliveries)
            if outcome.started_run is not None:
                record_trigger_sqlite(conn, outcome.started_run)
            if outcome.repeat is not None:
                drive_sqlite(conn, noise.record(outcome.repeat))
            if outcome.quieted_by is not None:
                conn.execute(sql.QUIETED_BY, (outcome.quieted_by, delivery_id))
            return True

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def newer_succeeded(self, ordering_key: str, ordering_time: float, delivery_id: str) -> bool:
        args = (ordering_key, delivery_id, ordering_time, ordering_time, delivery_id)
        return await self._read(lambda conn: conn.execute(sql.NEWER_SUCCEEDED, args).fetchone() is not None)

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        def q(conn: sqlite3.Connection) -> DeliveryRow | None:
            r = conn.execute(sql.GET_DELIVERY, (delivery_id,)).fetchone()
            return delivery_row(r, jsonutil.loads) if r else None

        return await self._read(q)

    async def list_deliveries(self, query: DeliveryQuery) -> list[DeliveryRow]:
        text, args = sql.list_deliveries(query)
        return await self._read(lambda conn: [delivery_row(r, jsonutil.loads) for r in conn.execute(text, args)])

    async def attempts_for(self, delivery_ids: Sequence[str]) -> dict[str, list[AttemptRow]]:
        ids = list(delivery_ids)

        def q(conn: sqlite3.Connection) -> dict[str, list[AttemptRow]]:
            out: dict[str, list[AttemptRow]] = {i: [] for i in ids}
            for start in range(0, len(ids), 500):  # SQLite's bound on parameters per statement
                chunk = ids[start : start + 500]
                for r in conn.execute(sql.attempts_of(len(chunk)), chunk):
                    out[r[0]].append(AttemptRow(*r))
            return out

        return await self._read(q)

    async def requeue(self, delivery_id: str, now: float, params: dict[str, Any] | None = None) -> bool:
        args = (now, now, now, None if params is None else to_json(params), delivery_id)
        return await self.write(lambda conn: conn.execute(sql.REQUEUE, args).rowcount == 1)

    async def add_deliveries(self, event_id: str, deliveries: Sequence[NewDelivery], now: float) -> None:
        await self.write(lambda conn: insert_deliveries(conn, event_id, now, deliveries))

    async def delivery_counts(self) -> dict[str, int]:
        return await self._read(lambda conn: {s: n for s, n in conn.execute(sql.DELIVERY_COUNTS)})

    async def oldest_due(self, now: float) -> float | None:
        def q(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(sql.OLDEST_DUE, (now, now)).fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._read(q)
