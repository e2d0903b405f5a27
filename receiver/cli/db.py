"""``hookyard db vacuum``: switch an older SQLite file to incremental auto_vacuum, once.

Files created since retention landed are made with ``auto_vacuum = INCREMENTAL``: the pruner
(``receiver/pruner.py``) gives the pages it frees back to the disk. An older file reuses freed
pages for new rows but never shrinks; SQLite switches it only while rewriting it with VACUUM,
which holds the write lock throughout (a daemon on the same file answers ``503 store_busy`` to
writes waiting longer than ``storage.busy_timeout_seconds`` meanwhile: stop it first, or run
this when little arrives).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import click

from receiver.cli.common import CONFIG_OPTION, fail, load_or_exit
from receiver.store import prepare_store

_MODES = {0: "none", 1: "full", 2: "incremental"}


@click.group()
def db() -> None:
    """Maintenance of the store."""


@db.command()
@CONFIG_OPTION
def vacuum(config_path: Path) -> None:
    """Rewrite the SQLite file in incremental auto_vacuum mode, giving free pages back to the disk."""
    config = load_or_exit(config_path)
    url = config.storage_url
    if not url.startswith("sqlite:///"):
        click.echo("PostgreSQL: its autovacuum makes pruned rows' space reusable; nothing to do")
        return
    asyncio.run(prepare_store(config))  # one line when the file cannot be opened; migrated
    from receiver.store.sqlite import _connect

    path = url[len("sqlite:///") :]
    before = os.path.getsize(path)
    conn = _connect(path, config.storage.busy_timeout_seconds)  # asks for INCREMENTAL: VACUUM applies it
    try:
        conn.execute("VACUUM")
        mode = int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        fail(f"error: cannot vacuum {path}: {exc} (another process holds its write lock? try again, or stop it)")
    finally:
        conn.close()
    after = os.path.getsize(path)
    click.echo(f"{path}: auto_vacuum {_MODES.get(mode, mode)}; {before:,} -> {after:,} bytes")
