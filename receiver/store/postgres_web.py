"""The delivery log page's operations on PostgreSQL (statements in ``sql.py``).
Mixed into :class:`PostgresStore`, which provides ``write`` and ``_read``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from receiver.store import sql
from receiver.store.sql import pg

T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[Any, ...]]


class PostgresWeb:
    if TYPE_CHECKING:  # provided by PostgresStore

        async def write(self, op: Callable[[Conn], Awaitable[T]]) -> T: ...

        async def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def event_delivery_states(self, event_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        ids = list(event_ids)
        if not ids:
            return {}
        out: dict[str, dict[str, int]] = {}
        for event_id, state, n in await self._read(
            pg(sql.states_of_events(len(ids))), ids
        ):
            out.setdefault(event_id, {})[state] = int(n)
        return out

    async def dead_by_sink(self) -> dict[str, int]:
        return {s: int(n) for s, n in await self._read(pg(sql.DEAD_BY_SINK))}

    async def requeue_dead(self, sink_id: str, now: float) -> int:
        async def op(conn: Conn) -> int:
            cur = await conn.execute(pg(sql.REQUEUE_DEAD_OF_SINK), (now, now, now, sink_id))
            return cur.rowcount

        return await self.write(op)

    async def web_key(self, name: str, candidate: str, now: float) -> str:
        async def op(conn: Conn) -> str:
            await conn.execute(pg(sql.ADD_KEY), (name, candidate, now))
            cur = await conn.execute(pg(sql.GET_KEY), (name,))
            row = await cur.fetchone()
            assert row is not None  # inserted just now or earlier
            return str(row[0])

        return await self.write(op)

    async def add_session(self, id_sha256: str, now: float, expires_at: float) -> None:
        async def op(conn: Conn) -> None:
            await conn.execute(pg(sql.DROP_EXPIRED_SESSIONS), (now,))
            await conn.execute(pg(sql.ADD_SESSION), (id_sha256, now, expires_at))

        await self.write(op)

    async def session_alive(self, id_sha256: str, now: float) -> bool:
        return bool(await self._read(pg(sql.SESSION_ALIVE), (id_sha256, now)))

    async def end_session(self, id_sha256: str) -> None:
        async def op(conn: Conn) -> None:
            await conn.execute(pg(sql.END_SESSION), (id_sha256,))

        await self.write(op)
