"""Store algorithms written once, without I/O, for both backends.

An algorithm is a generator that yields :class:`Statement` s (``?`` marks) and is sent each
one's answer (its rows, or its row count); :func:`drive_sqlite` and :func:`drive_postgres`
run it on a connection inside the caller's transaction. Redelivery detection
(``dedupe.py``) and what a run event reads besides its run (``runs_history.py``) are such.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from receiver.store.sql import pg, pg_clean

if TYPE_CHECKING:  # SQLite stores do not need psycopg imported
    from receiver.store.pg_pool import Conn

T = TypeVar("T")


class Statement(NamedTuple):  # one per statement run: a named tuple is made faster than a frozen dataclass
    text: str
    args: Sequence[Any]
    rows: bool  # answer with the rows (else with the row count)


Answer = list[tuple[Any, ...]] | int
Steps = Generator[Statement, Answer, T]


def rows(answer: Answer) -> list[tuple[Any, ...]]:
    assert isinstance(answer, list)
    return answer


def count(answer: Answer) -> int:
    assert isinstance(answer, int)
    return answer


def drive_sqlite(conn: sqlite3.Connection, steps: Steps[T]) -> T:
    try:
        statement = next(steps)
        while True:
            cur = conn.execute(statement.text, statement.args)
            statement = steps.send(cur.fetchall() if statement.rows else cur.rowcount)
    except StopIteration as stop:
        result: T = stop.value
        return result


async def drive_postgres(conn: Conn, steps: Steps[T]) -> T:
    """The same on PostgreSQL; text arguments as it can hold them (``pg_clean``: no NUL)."""
    try:
        statement = next(steps)
        while True:
            cur = await conn.execute(pg(statement.text), pg_clean(statement.args))
            statement = steps.send(await cur.fetchall() if statement.rows else cur.rowcount)
    except StopIteration as stop:
        result: T = stop.value
        return result
