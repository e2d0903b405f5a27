"""The PostgreSQL connection pool: bounded waits everywhere, one-line errors.

No wait on the server is unbounded: opening a connection (``connect_timeout`` at start,
retried; ``busy_timeout`` later), waiting for a free connection, and waiting for a lock
another session holds (``lock_timeout``, set on every connection) all end, the last
two as :class:`StoreBusy` (503 ``store_busy``: nothing was written, retry later) and a
server that cannot be reached as :class:`StoreUnavailable`. Their messages name the
server by its URL with the password hidden, and never carry the password.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from receiver.errors import StoreBusy, StoreUnavailable
from receiver.secret import redact_url

Conn = psycopg.AsyncConnection[tuple[Any, ...]]

log = logging.getLogger("hookyard.store")


class Pool:
    """At most ``size`` connections, opened on demand and reused. A connection that
    breaks, or is left mid-transaction by a cancelled operation, is closed, not reused.
    One that sat idle longer than ``probe_after`` seconds is probed first, so a server
    restart while the daemon was quiet does not fail the next request."""

    def __init__(self, url: str, size: int, probe_after: float, busy_timeout: float) -> None:
        self.url = url
        self.probe_after = probe_after
        self.busy_timeout = busy_timeout
        self._idle: list[tuple[Conn, float]] = []  # (connection, monotonic time it was returned)
        self._slots = asyncio.Semaphore(size)
        self._size = size
        self._closed = False

    # -- opening connections ---------------------------------------------------------
    async def _connect(self, timeout: float) -> Conn:
        """A new connection within ``timeout`` seconds, its lock waits bounded."""
        # libpq's own connect_timeout (whole seconds, at least 2) backs up asyncio's bound.
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=max(2, math.ceil(timeout))),
            timeout,
        )
        lock_timeout = f"{round(self.busy_timeout * 1000)}ms"
        try:
            await conn.execute("SELECT set_config('lock_timeout', %s, false)", (lock_timeout,))
        except BaseException:
            await conn.close()
            raise
        return conn

    async def first(self, connect_timeout: float) -> None:
        """Reach the server at start, retrying for up to ``connect_timeout`` seconds (it may
        be starting too); StoreUnavailable when it cannot be reached in that time."""
        deadline = time.monotonic() + connect_timeout
        delay = 0.1
        while True:
            try:
                conn = await self._connect(max(0.1, deadline - time.monotonic()))
            except (psycopg.Error, OSError, TimeoutError) as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self.unreachable(exc, f" within {connect_timeout:g} s") from None
                log.warning("PostgreSQL at %s not reachable yet (%s); retrying", self.where, self.reason(exc))
                await asyncio.sleep(min(delay, remaining))  # the last try is at the deadline
                delay = min(delay * 2, 2.0)
            else:
                self._idle.append((conn, time.monotonic()))
                return

    # -- the pool ----------------------------------------------------------------------
    async def _take(self) -> Conn:
        while self._idle:
            conn, since = self._idle.pop()
            if time.monotonic() - since < self.probe_after:
                return conn
            try:
                await conn.execute("SELECT 1")
                return conn
            except psycopg.Error:
                await conn.close()
        try:
            return await self._connect(self.busy_timeout)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            raise self.unreachable(exc) from None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        if self._closed:
            raise RuntimeError("store is not open")
        try:
            await asyncio.wait_for(self._slots.acquire(), self.busy_timeout)
        except TimeoutError:
            raise self.busy(f"all {self._size} connections to PostgreSQL stayed in use") from None
        try:
            conn = await self._take()
            try:
                yield conn
            except pgerrors.LockNotAvailable:
                raise self.busy("a lock it needed stayed held by another session") from None
            except psycopg.OperationalError as exc:
                if not conn.broken:
                    raise
                # The server went away mid-operation (a restart, a failover): the sender is told to
                # retry, and a redelivery is deduplicated should the write have committed after all.
                lost = f"lost the connection to PostgreSQL at {self.where}: {self.reason(exc)}"
                raise StoreUnavailable(lost) from None
            finally:
                reusable = (
                    not self._closed
                    and not conn.closed
                    and not conn.broken
                    and conn.info.transaction_status == TransactionStatus.IDLE
                )
                if reusable:
                    self._idle.append((conn, time.monotonic()))
                else:
                    await conn.close()
        finally:
            self._slots.release()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await conn.close()

    # -- errors ------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return redact_url(self.url)

    def reason(self, exc: BaseException) -> str:
        """The first line of a connection error, with the password blotted out should the
        driver ever echo it."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        try:
            password = conninfo_to_dict(self.url).get("password")
        except psycopg.Error:
            password = None
        return text.replace(str(password), "<redacted>") if password else text

    def unreachable(self, exc: BaseException, within: str = "") -> StoreUnavailable:
        return StoreUnavailable(f"cannot connect to PostgreSQL at {self.where}{within}: {self.reason(exc)}")

    def busy(self, what: str) -> StoreBusy:
        return StoreBusy(
            f"the store is busy: {what} for over {self.busy_timeout:g} s; nothing was stored, retry later",
            retry_after=max(1, math.ceil(self.busy_timeout)),
        )
