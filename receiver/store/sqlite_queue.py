"""The delivery-queue half of the SQLite store: claim with a lease, postpone, finish,
requeue, and the reads of the delivery log. Mixed into :class:`SqliteStore`, which
provides the connection plumbing and the event writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from receiver import jsonutil
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
from receiver.store.rows import ATTEMPT_COLUMNS, DELIVERY_COLUMNS, OLDEST_DUE, RENEW_LEASE, delivery_row
from receiver.store.runs_trigger import record_trigger_sqlite

T = TypeVar("T")


def insert_deliveries(conn: sqlite3.Connection, event_id: str, now: float, deliveries: Sequence[NewDelivery]) -> None:
    """Queue ``deliveries`` of an event (in the caller's transaction)."""
    conn.executemany(
        "INSERT INTO deliveries (id, event_id, rule, action_index, sink_id, emit, params, state, attempts, "
        "created_at, updated_at, next_attempt_at, last_error, ordering_key, ordering_time, budget_start, "
        "replay_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                d.id,
                event_id,
                d.rule,
                d.action_index,
                d.sink_id,
                d.emit,
                None if d.params is None else jsonutil.dumps(d.params),
                d.state.value,
                now,
                now,
                now,
                d.last_error,
                d.ordering_key,
                now if d.ordering_key else None,
                now,
                d.replay_of,
            )
            for d in deliveries
        ],
    )


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
            # walks only its partial index.
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM deliveries WHERE state = 'in_progress' AND lease_until < ? LIMIT ?",
                    (now, limit),
                )
            ]
            if len(ids) < limit:
                ids += [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM deliveries INDEXED BY deliveries_due "
                        "WHERE state IN ('queued', 'retrying') AND next_attempt_at <= ? "
                        "ORDER BY next_attempt_at LIMIT ?",
                        (now, limit - len(ids)),
                    )
                ]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            conn.execute(
                f"UPDATE deliveries SET state = 'in_progress', lease_until = ?, lease_owner = ?, updated_at = ? "
                f"WHERE id IN ({marks})",
                (now + lease_seconds, owner, now, *ids),
            )
            out = []
            for r in conn.execute(
                f"SELECT {', '.join('d.' + c.strip() for c in DELIVERY_COLUMNS.split(','))}, "
                f"e.envelope, e.depth, e.source_id FROM deliveries d JOIN events e ON e.id = d.event_id "
                f"WHERE d.id IN ({marks}) ORDER BY d.next_attempt_at",
                ids,
            ):
                out.append(
                    Claimed(
                        delivery_row(r[:19], jsonutil.loads),
                        jsonutil.loads(r[19]),
                        r[20],
                        r[21],
                    )
                )
            return out

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def postpone(self, delivery_id: str, owner: str, until: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE deliveries SET state = CASE WHEN attempts = 0 THEN 'queued' ELSE 'retrying' END, "
                "next_attempt_at = ?, lease_until = NULL, lease_owner = NULL, updated_at = ? "
                "WHERE id = ? AND lease_owner = ? AND state = 'in_progress'",
                (until, self.clock(), delivery_id, owner),
            )
            return cur.rowcount == 1

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def renew(self, delivery_id: str, owner: str, until: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(RENEW_LEASE.replace("%s", "?"), (until, delivery_id, owner))
            return cur.rowcount == 1

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def finish(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            a = outcome.attempt
            cur = conn.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = COALESCE(?, "
                "next_attempt_at), last_error = ?, lease_until = NULL, lease_owner = NULL, updated_at = ? "
                "WHERE id = ? AND lease_owner = ? AND state = 'in_progress'",
                (outcome.state.value, outcome.next_attempt_at, outcome.last_error, a.finished_at, delivery_id, owner),
            )
            if cur.rowcount != 1:
                return False
            number = conn.execute("SELECT COUNT(*) + 1 FROM attempts WHERE delivery_id = ?", (delivery_id,))
            conn.execute(
                f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery_id,
                    number.fetchone()[0],
                    a.started_at,
                    a.finished_at,
                    a.duration_ms,
                    a.outcome,
                    a.status_code,
                    a.error_class,
                    a.reason,
                    a.response_excerpt,
                ),
            )
            if outcome.derived is not None:
                event, deliveries = outcome.derived
                self._save_event(conn, event, deliveries)
            if outcome.started_run is not None:
                record_trigger_sqlite(conn, outcome.started_run)
            return True

        return await self.write(op, durable=False)  # see ``DISPATCHER_WRITES``

    async def newer_succeeded(self, ordering_key: str, ordering_time: float, delivery_id: str) -> bool:
        def q(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM deliveries WHERE ordering_key = ? AND state = 'succeeded' AND id != ? "
                "AND (ordering_time > ? OR (ordering_time = ? AND id > ?)) LIMIT 1",
                (ordering_key, delivery_id, ordering_time, ordering_time, delivery_id),
            ).fetchone()
            return row is not None

        return await self._read(q)

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        def q(conn: sqlite3.Connection) -> DeliveryRow | None:
            r = conn.execute(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
            return delivery_row(r, jsonutil.loads) if r else None

        return await self._read(q)

    async def list_deliveries(self, query: DeliveryQuery) -> list[DeliveryRow]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("state", query.state), ("event_id", query.event_id), ("sink_id", query.sink_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        args.append(query.limit)
        return await self._read(lambda conn: [delivery_row(r, jsonutil.loads) for r in conn.execute(sql, args)])

    async def attempts_for(self, delivery_ids: Sequence[str]) -> dict[str, list[AttemptRow]]:
        ids = list(delivery_ids)

        def q(conn: sqlite3.Connection) -> dict[str, list[AttemptRow]]:
            out: dict[str, list[AttemptRow]] = {i: [] for i in ids}
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id IN ({marks}) ORDER BY number", chunk
                ):
                    out[r[0]].append(AttemptRow(*r))
            return out

        return await self._read(q)

    async def requeue(self, delivery_id: str, now: float, params: dict[str, Any] | None = None) -> bool:
        new_params = None if params is None else jsonutil.dumps(params)

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE deliveries SET state = 'queued', attempts = 0, next_attempt_at = ?, budget_start = ?, "
                "updated_at = ?, lease_until = NULL, lease_owner = NULL, params = COALESCE(?, params) "
                "WHERE id = ? AND state = 'dead'",
                (now, now, now, new_params, delivery_id),
            )
            return cur.rowcount == 1

        return await self.write(op)

    async def add_deliveries(self, event_id: str, deliveries: Sequence[NewDelivery], now: float) -> None:
        await self.write(lambda conn: insert_deliveries(conn, event_id, now, deliveries))

    async def delivery_counts(self) -> dict[str, int]:
        def q(conn: sqlite3.Connection) -> dict[str, int]:
            return {s: n for s, n in conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")}

        return await self._read(q)

    async def oldest_due(self, now: float) -> float | None:
        def q(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(OLDEST_DUE.replace("%s", "?"), (now, now)).fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._read(q)
