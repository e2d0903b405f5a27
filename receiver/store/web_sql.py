"""Statements of the delivery log's page, written once with ``?`` marks (PostgreSQL
swaps them for ``%s``): delivery summaries, bulk retry, shared keys, login sessions."""

from __future__ import annotations

STATES_OF_EVENTS = (
    "SELECT event_id, state, COUNT(*) FROM deliveries WHERE event_id IN ({marks}) GROUP BY event_id, state"
)
DEAD_BY_SINK = "SELECT sink_id, COUNT(*) FROM deliveries WHERE state = 'dead' GROUP BY sink_id"
# As ``requeue`` does for one delivery: a fresh attempt budget, due now.
REQUEUE_DEAD_OF_SINK = (
    "UPDATE deliveries SET state = 'queued', attempts = 0, next_attempt_at = ?, budget_start = ?, updated_at = ?, "
    "lease_until = NULL, lease_owner = NULL WHERE sink_id = ? AND state = 'dead'"
)
# Whichever process comes first stores its candidate; every process then reads the same key.
ADD_KEY = "INSERT INTO web_keys (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING"
GET_KEY = "SELECT value FROM web_keys WHERE name = ?"
DROP_EXPIRED_SESSIONS = "DELETE FROM web_sessions WHERE expires_at <= ?"
ADD_SESSION = "INSERT INTO web_sessions (id_sha256, created_at, expires_at) VALUES (?, ?, ?)"
SESSION_ALIVE = "SELECT 1 FROM web_sessions WHERE id_sha256 = ? AND expires_at > ?"
END_SESSION = "DELETE FROM web_sessions WHERE id_sha256 = ?"


def pg(sql: str) -> str:
    """The statement with PostgreSQL's parameter marks."""
    return sql.replace("?", "%s")
