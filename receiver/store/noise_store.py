"""The noise-control operations of each backend: ``noise.py``'s algorithms on a connection.

Mixed into :class:`SqliteStore` and :class:`PostgresStore` (which provide ``write``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from receiver.store import noise
from receiver.store.base import RepeatDecision, RepeatKey, SilenceRow
from receiver.store.steps import Steps, drive_postgres, drive_sqlite

if TYPE_CHECKING:
    from receiver.store.pg_pool import Conn

T = TypeVar("T")


class SqliteNoise:
    if TYPE_CHECKING:  # provided by SqliteStore

        async def write(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def _steps(self, steps: Steps[T], *, durable: bool = True) -> T:
        return await self.write(lambda conn: drive_sqlite(conn, steps), durable=durable)

    async def repeat_reserve(
        self, key: RepeatKey, content_sha256: str, delivery_id: str, now: float, interval: float, hold_until: float
    ) -> RepeatDecision:
        # A dispatcher write (see sqlite_queue.DISPATCHER_WRITES); the single writer is the lock.
        steps = noise.reserve(key, content_sha256, delivery_id, now, interval, hold_until, "")
        return await self._steps(steps, durable=False)

    async def add_silence(self, silence: SilenceRow) -> None:
        await self._steps(noise.add_silence(silence))

    async def expire_silence(self, silence_id: str, now: float) -> SilenceRow | None:
        return await self._steps(noise.expire_silence(silence_id, now))

    async def get_silence(self, silence_id: str) -> SilenceRow | None:
        return await self._read(lambda conn: drive_sqlite(conn, noise.get_silence(silence_id)))

    async def live_silences(self, now: float) -> list[SilenceRow]:
        return await self._read(lambda conn: drive_sqlite(conn, noise.live_silences(now)))

    async def list_silences(self, limit: int = 200) -> list[SilenceRow]:
        return await self._read(lambda conn: drive_sqlite(conn, noise.list_silences(limit)))


class PostgresNoise:
    if TYPE_CHECKING:  # provided by PostgresStore

        async def write(self, op: Callable[[Conn], Awaitable[T]]) -> T: ...

    async def _steps(self, steps: Steps[T]) -> T:
        return await self.write(lambda conn: drive_postgres(conn, steps))

    async def repeat_reserve(
        self, key: RepeatKey, content_sha256: str, delivery_id: str, now: float, interval: float, hold_until: float
    ) -> RepeatDecision:
        # The row lock holds a second process's reservation back until this transaction commits.
        steps = noise.reserve(key, content_sha256, delivery_id, now, interval, hold_until, " FOR UPDATE")
        return await self._steps(steps)

    async def add_silence(self, silence: SilenceRow) -> None:
        await self._steps(noise.add_silence(silence))

    async def expire_silence(self, silence_id: str, now: float) -> SilenceRow | None:
        return await self._steps(noise.expire_silence(silence_id, now))

    async def get_silence(self, silence_id: str) -> SilenceRow | None:
        return await self._steps(noise.get_silence(silence_id))

    async def live_silences(self, now: float) -> list[SilenceRow]:
        return await self._steps(noise.live_silences(now))

    async def list_silences(self, limit: int = 200) -> list[SilenceRow]:
        return await self._steps(noise.list_silences(limit))
