"""The delivery log page's operations on SQLite (statements in ``sql.py``).
Mixed into :class:`SqliteStore`, which provides ``write`` and ``_read``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from receiver.store import sql

T = TypeVar("T")


class SqliteWeb:
    if TYPE_CHECKING:  # provided by SqliteStore

        async def write(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def event_delivery_states(self, event_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        ids = list(event_ids)
        if not ids:
            return {}

        def q(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for event_id, state, n in conn.execute(sql.states_of_events(len(ids)), ids):
                out.setdefault(event_id, {})[state] = int(n)
            return out

        return await self._read(q)

    async def dead_by_sink(self) -> dict[str, int]:
        return await self._read(lambda conn: {s: int(n) for s, n in conn.execute(sql.DEAD_BY_SINK)})

    async def requeue_dead(self, sink_id: str, now: float) -> int:
        return await self.write(lambda conn: conn.execute(sql.REQUEUE_DEAD_OF_SINK, (now, now, now, sink_id)).rowcount)

    async def web_key(self, name: str, candidate: str, now: float) -> str:
        def op(conn: sqlite3.Connection) -> str:
            conn.execute(sql.ADD_KEY, (name, candidate, now))
            return str(conn.execute(sql.GET_KEY, (name,)).fetchone()[0])

        return await self.write(op)

    async def add_session(self, id_sha256: str, now: float, expires_at: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(sql.DROP_EXPIRED_SESSIONS, (now,))
            conn.execute(sql.ADD_SESSION, (id_sha256, now, expires_at))

        await self.write(op)

    async def session_alive(self, id_sha256: str, now: float) -> bool:
        return await self._read(lambda conn: conn.execute(sql.SESSION_ALIVE, (id_sha256, now)).fetchone() is not None)

    async def end_session(self, id_sha256: str) -> None:
        await self.write(lambda conn: conn.execute(sql.END_SESSION, (id_sha256,)))
