"""The poll schedule on each backend (statements in ``polls.py``), mixed into the stores, and the
insert of a schedule row inside another transaction (a run row created by a trigger or an event)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from receiver import jsonutil
from receiver.store import polls as q
from receiver.store.polls import NewPoll, Polled, PollHistoryRow, PollRow
from receiver.store.sql import pg, pg_clean

if TYPE_CHECKING:  # SQLite stores do not need psycopg imported
    from receiver.store.pg_pool import Conn

T = TypeVar("T")

_CLAIM_SQLITE = q.claim_sqlite()
_PG_CLAIM, _PG_INSERT, _PG_RENEW, _PG_FINISH = map(pg, (q.claim_postgres(), q.INSERT_POLL, q.RENEW_POLL, q.FINISH_POLL))
_PG_HISTORY, _PG_TRIM, _PG_GET, _PG_LIST = map(pg, (q.INSERT_HISTORY, q.TRIM_HISTORY, q.GET_POLL, q.HISTORY))


def _by_due(rows: list[PollRow]) -> list[PollRow]:
    return sorted(rows, key=lambda r: (r.due_at, r.source_id, r.run_id))


def add_poll_sqlite(conn: sqlite3.Connection, poll: NewPoll) -> bool:
    """Start watching a run in the caller's transaction; False when it is watched already."""
    return conn.execute(q.INSERT_POLL, q.poll_args(poll)).rowcount == 1


async def add_poll_postgres(conn: Conn, poll: NewPoll) -> bool:
    return (await conn.execute(_PG_INSERT, pg_clean(q.poll_args(poll)))).rowcount == 1


class SqlitePolls:
    if TYPE_CHECKING:  # provided by SqliteStore

        async def write(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def add_polls(self, polls: Sequence[NewPoll]) -> int:
        return await self.write(lambda conn: sum(add_poll_sqlite(conn, p) for p in polls))

    # Like the dispatcher's writes (sqlite_queue.DISPATCHER_WRITES): committed, not waited for on
    # disk. A power cut could undo a lease or a poll's record: the run is polled once more.
    async def claim_polls(self, now: float, limit: int, lease_seconds: float, owner: str) -> list[PollRow]:
        args = q.claim_args(now, limit, lease_seconds, owner, due_first=False)
        return await self.write(
            lambda conn: _by_due([q.poll_row(r, jsonutil.loads) for r in conn.execute(_CLAIM_SQLITE, args)]),
            durable=False,
        )

    async def renew_poll(self, source_id: str, run_id: str, owner: str, until: float) -> bool:
        args = (until, source_id, run_id, owner)
        return await self.write(lambda conn: conn.execute(q.RENEW_POLL, args).rowcount == 1, durable=False)

    async def finish_poll(self, source_id: str, run_id: str, owner: str, polled: Polled) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            args = q.finish_args(source_id, run_id, owner, polled, jsonutil.dumps)
            if conn.execute(q.FINISH_POLL, args).rowcount != 1:
                return False
            if polled.history is not None:
                conn.execute(q.INSERT_HISTORY, q.history_args(source_id, run_id, polled.history))
                conn.execute(q.TRIM_HISTORY, q.trim_args(source_id, run_id))
            return True

        return await self.write(op, durable=False)

    async def get_poll(self, source_id: str, run_id: str) -> PollRow | None:
        def read(conn: sqlite3.Connection) -> PollRow | None:
            r = conn.execute(q.GET_POLL, (source_id, run_id)).fetchone()
            return q.poll_row(r, jsonutil.loads) if r else None

        return await self._read(read)

    async def poll_history(self, source_id: str, run_id: str, limit: int) -> list[PollHistoryRow]:
        return await self._read(
            lambda conn: [PollHistoryRow(*r) for r in conn.execute(q.HISTORY, (source_id, run_id, limit))]
        )

    async def count_watching(self) -> int:
        return await self._read(lambda conn: int(conn.execute(q.COUNT_WATCHING).fetchone()[0]))


class PostgresPolls:
    if TYPE_CHECKING:  # provided by PostgresStore

        async def write(self, op: Callable[[Conn], Awaitable[T]]) -> T: ...

        async def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def add_polls(self, polls: Sequence[NewPoll]) -> int:
        async def op(conn: Conn) -> int:
            return sum([await add_poll_postgres(conn, p) for p in polls])

        return await self.write(op)

    async def claim_polls(self, now: float, limit: int, lease_seconds: float, owner: str) -> list[PollRow]:
        async def op(conn: Conn) -> list[PollRow]:
            cur = await conn.execute(_PG_CLAIM, q.claim_args(now, limit, lease_seconds, owner, due_first=True))
            return _by_due([q.poll_row(r, json.loads) for r in await cur.fetchall()])

        return await self.write(op)

    async def renew_poll(self, source_id: str, run_id: str, owner: str, until: float) -> bool:
        async def op(conn: Conn) -> bool:
            return (await conn.execute(_PG_RENEW, pg_clean((until, source_id, run_id, owner)))).rowcount == 1

        return await self.write(op)

    async def finish_poll(self, source_id: str, run_id: str, owner: str, polled: Polled) -> bool:
        async def op(conn: Conn) -> bool:
            args = q.finish_args(source_id, run_id, owner, polled, json.dumps)
            if (await conn.execute(_PG_FINISH, pg_clean(args))).rowcount != 1:
                return False
            if polled.history is not None:
                await conn.execute(_PG_HISTORY, pg_clean(q.history_args(source_id, run_id, polled.history)))
                await conn.execute(_PG_TRIM, pg_clean(q.trim_args(source_id, run_id)))
            return True

        return await self.write(op)

    async def get_poll(self, source_id: str, run_id: str) -> PollRow | None:
        rows = await self._read(_PG_GET, pg_clean((source_id, run_id)))
        return q.poll_row(rows[0], json.loads) if rows else None

    async def poll_history(self, source_id: str, run_id: str, limit: int) -> list[PollHistoryRow]:
        return [PollHistoryRow(*r) for r in await self._read(_PG_LIST, pg_clean((source_id, run_id, limit)))]

    async def count_watching(self) -> int:
        rows = await self._read(q.COUNT_WATCHING)
        return int(rows[0][0])

