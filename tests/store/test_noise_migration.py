"""0010_noise.sql on a SQLite file made by the earlier migrations, with rows in it: the CHECK
constraint edit leaves a sound file, every connection sees the new states, old rows stay."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from receiver.store.base import AttemptRow, DeliveryState, Outcome
from receiver.store.migrate import migrations
from receiver.store.sqlite import SqliteStore
from tests.helpers import FakeClock


def test_an_older_file_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
    for version, name, text in migrations("sqlite"):
        if version >= 10:
            break
        for statement in text.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
    conn.execute(
        "INSERT INTO events (id, source_id, kind, type, received_at, body_sha256, headers, body, envelope, "
        "correlation_id) VALUES ('e1', 's', 'generic', 't', 1, 'x', '{}', x'7b7d', '{}', 'e1')"
    )
    conn.execute(
        "INSERT INTO deliveries (id, event_id, rule, action_index, sink_id, params, state, created_at, updated_at, "
        "next_attempt_at, budget_start) VALUES ('d1', 'e1', 'r', 0, 'hook', '{}', 'queued', 1, 1, 1, 1)"
    )
    try:
        conn.execute("UPDATE deliveries SET state = 'silenced'")  # the old constraint refuses it
        raise AssertionError("the old CHECK constraint took a state it does not know")
    except sqlite3.IntegrityError:
        pass
    other = sqlite3.connect(db, isolation_level=None)  # a connection open across the migration
    other.execute("SELECT * FROM deliveries").fetchall()

    async def main() -> None:
        store = SqliteStore(db, clock=FakeClock())
        await store.open()
        try:
            [claimed] = await store.claim_due(10.0, 10, 30, "w")
            attempt = AttemptRow("d1", 0, 10, 10, 0, "silenced", None, None, "why", None)
            outcome = Outcome(attempt, DeliveryState.SILENCED, None, "why", quieted_by="sil_1")
            assert await store.finish(claimed.delivery.id, "w", outcome)
            row = await store.get_delivery("d1")
            assert row is not None and (row.state, row.quieted_by) == (DeliveryState.SILENCED, "sil_1")
        finally:
            await store.close()

    asyncio.run(main())
    assert other.execute("SELECT state FROM deliveries").fetchall() == [("silenced",)]
    other.execute("UPDATE deliveries SET state = 'suppressed'")  # it re-read the schema
    other.close()
    conn.close()
    fresh = sqlite3.connect(db)
    assert fresh.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert fresh.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] >= 10
    fresh.close()
