from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Daemon
from tests.pg import PostgresMissing, PostgresServer


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Daemons started by a test; all stopped at its end, whatever happened."""
    started: list[Daemon] = []
    yield started
    for d in started:
        d.stop()


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(text: str, name: str = "config.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return write


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (``tests/pg.py``); missing binaries fail loudly."""
    try:
        server = PostgresServer()
    except PostgresMissing as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:  # fail outside the except block: one clear message, no chained traceback
        pytest.fail(missing, pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
