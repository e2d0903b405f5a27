"""The statements both backends run, written once with ``?`` marks; ``pg()`` gives psycopg's.

Events, deliveries, attempts, redelivery keys, the delivery log page's summaries, shared
keys and login sessions. Delivery states come from :class:`DeliveryState`, never spelled
as text here. The dialect differences live at the bottom (``Dialect``): how a JSON field
of the envelope is read, and the claim of due deliveries (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, one writer and an index hint on SQLite, in the backends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from receiver.store.base import RETRYABLE_STATES, DeliveryQuery, DeliveryState, EventQuery
from receiver.store.event_filter import event_where
from receiver.store.rows import ATTEMPT_COLUMNS, DELIVERY_COLUMNS, EVENT_COLUMNS

QUEUED, IN_PROGRESS, RETRYING = DeliveryState.QUEUED, DeliveryState.IN_PROGRESS, DeliveryState.RETRYING
SUCCEEDED, DEAD = DeliveryState.SUCCEEDED, DeliveryState.DEAD


def pg(sql: str) -> str:
    """A statement with psycopg's placeholders (none of ours contains a literal ``?``)."""
    return sql.replace("?", "%s")


def marks(n: int) -> str:
    return ",".join("?" * n)


# -- events ------------------------------------------------------------------------------
INSERT_EVENT = (
    "INSERT INTO events (id, source_id, kind, type, subject, received_at, body_sha256, headers, body, "
    "envelope, normalize_error, parent_id, correlation_id, depth, rules_version, matched_rules) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
GET_EVENT = f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?"
COUNT_EVENTS = "SELECT COUNT(*) FROM events"
# Events an ``emit:`` delivery derived from ``parent_id`` (events_parent index).
CHILDREN = f"SELECT {EVENT_COLUMNS} FROM events WHERE parent_id = ? ORDER BY received_at, id LIMIT ?"

# -- redelivery keys (the algorithm: dedupe.py) -----------------------------------------------


def claim_keys(n: int) -> str:
    """Claim ``n`` (source, key) pairs for an event; the unique key refuses taken ones."""
    values = ",".join(["(?, ?, ?)"] * n)
    return f"INSERT INTO event_keys (source_id, key, event_id) VALUES {values} ON CONFLICT DO NOTHING"


KEY_OWNER = "SELECT event_id FROM event_keys WHERE source_id = ? AND key = ? AND event_id != ?"
# The body key's holder and when it arrived (NULL when its event is gone).
BODY_OWNER = (
    "SELECT k.event_id, e.received_at FROM event_keys k LEFT JOIN events e ON e.id = k.event_id "
    "WHERE k.source_id = ? AND k.key = ? AND k.event_id != ?"
)
# Only from the holder that was read: a concurrent save that moved it first wins.
MOVE_KEY = "UPDATE event_keys SET event_id = ? WHERE source_id = ? AND key = ? AND event_id = ?"


def release_keys(n: int) -> str:
    return f"DELETE FROM event_keys WHERE source_id = ? AND key IN ({marks(n)}) AND event_id = ?"


# -- deliveries ----------------------------------------------------------------------------
INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, event_id, rule, action_index, sink_id, emit, params, state, attempts, "
    "created_at, updated_at, next_attempt_at, last_error, ordering_key, ordering_time, budget_start, "
    "replay_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LEASED = f"state = '{IN_PROGRESS}'"
_WAITING = f"state IN ('{QUEUED}', '{RETRYING}')"
# Work whose worker died (its lease ran out), and due work.
EXPIRED_LEASE = f"{_LEASED} AND lease_until < ?"
EXPIRED_LEASES = f"SELECT id FROM deliveries WHERE {EXPIRED_LEASE} LIMIT ?"
DUE = f"{_WAITING} AND next_attempt_at <= ?"
LEASE = f"SET state = '{IN_PROGRESS}', lease_until = ?, lease_owner = ?, updated_at = ?"
# A claimed delivery (``d``) with what sending it needs of its event (``e``).
_D_COLUMNS = ", ".join("d." + c.strip() for c in DELIVERY_COLUMNS.split(","))
CLAIMED_COLUMNS = f"{_D_COLUMNS}, e.envelope, e.depth, e.source_id"
_UNLEASE = "lease_until = NULL, lease_owner = NULL"
POSTPONE = (
    f"UPDATE deliveries SET state = CASE WHEN attempts = 0 THEN '{QUEUED}' ELSE '{RETRYING}' END, "
    f"next_attempt_at = ?, {_UNLEASE}, updated_at = ? WHERE id = ? AND lease_owner = ? AND {_LEASED}"
)
# A worker renews the lease of a delivery it is still sending, so nobody claims it meanwhile.
RENEW_LEASE = f"UPDATE deliveries SET lease_until = ? WHERE id = ? AND lease_owner = ? AND {_LEASED}"
FINISH = (
    "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = COALESCE(?, next_attempt_at), "
    f"last_error = ?, {_UNLEASE}, updated_at = ? WHERE id = ? AND lease_owner = ? AND {_LEASED}"
)
# Run after FINISH, whose row lock (PostgreSQL) or the single writer (SQLite) keeps two
# finishes from numbering the same attempt.
INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) SELECT ?, COUNT(*) + 1, ?, ?, ?, ?, ?, ?, ?, ? "
    "FROM attempts WHERE delivery_id = ?"
)
NEWER_SUCCEEDED = (
    f"SELECT 1 FROM deliveries WHERE ordering_key = ? AND state = '{SUCCEEDED}' AND id != ? "
    "AND (ordering_time > ? OR (ordering_time = ? AND id > ?)) LIMIT 1"
)
GET_DELIVERY = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?"
_FRESH_BUDGET = f"state = '{QUEUED}', attempts = 0, next_attempt_at = ?, budget_start = ?, updated_at = ?, {_UNLEASE}"
# A retry takes a dead, suppressed or silenced delivery back (the dispatcher decides again).
_RETRYABLE = ", ".join(f"'{s}'" for s in RETRYABLE_STATES)
REQUEUE = (
    f"UPDATE deliveries SET {_FRESH_BUDGET}, params = COALESCE(?, params), quieted_by = NULL "
    f"WHERE id = ? AND state IN ({_RETRYABLE})"
)
# The mark of what held a suppressed or silenced delivery back (in its finish transaction).
QUIETED_BY = "UPDATE deliveries SET quieted_by = ? WHERE id = ?"
DELIVERY_COUNTS = "SELECT state, COUNT(*) FROM deliveries GROUP BY state"
# When the longest-waiting due delivery became due: queued/retrying work past its time, or
# claimed work whose lease ran out (its worker died). NULL when nothing is due.
OLDEST_DUE = (
    f"SELECT MIN(CASE WHEN {_LEASED} THEN lease_until ELSE next_attempt_at END) FROM deliveries "
    f"WHERE ({DUE}) OR ({_LEASED} AND lease_until < ?)"
)


def attempts_of(n: int) -> str:
    return f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id IN ({marks(n)}) ORDER BY number"


def list_deliveries(query: DeliveryQuery) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("state", query.state), ("event_id", query.event_id), ("sink_id", query.sink_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY created_at DESC, id DESC LIMIT ?", [*args, query.limit]


# -- the delivery log page: summaries, bulk retry, shared keys, login sessions -------------------
def states_of_events(n: int) -> str:
    return f"SELECT event_id, state, COUNT(*) FROM deliveries WHERE event_id IN ({marks(n)}) GROUP BY event_id, state"


DEAD_BY_SINK = f"SELECT sink_id, COUNT(*) FROM deliveries WHERE state = '{DEAD}' GROUP BY sink_id"
# As ``requeue`` does for one delivery: a fresh attempt budget, due now.
REQUEUE_DEAD_OF_SINK = f"UPDATE deliveries SET {_FRESH_BUDGET} WHERE sink_id = ? AND state = '{DEAD}'"
# Whichever process comes first stores its candidate; every process then reads the same key.
ADD_KEY = "INSERT INTO web_keys (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING"
GET_KEY = "SELECT value FROM web_keys WHERE name = ?"
DROP_EXPIRED_SESSIONS = "DELETE FROM web_sessions WHERE expires_at <= ?"
ADD_SESSION = "INSERT INTO web_sessions (id_sha256, created_at, expires_at) VALUES (?, ?, ?)"
SESSION_ALIVE = "SELECT 1 FROM web_sessions WHERE id_sha256 = ? AND expires_at > ?"
END_SESSION = "DELETE FROM web_sessions WHERE id_sha256 = ?"


# -- the dialects -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dialect:
    """What differs between the backends in the shared statements: how data.run.outcome is read
    out of the stored envelope (text JSON on SQLite, ``json`` on PostgreSQL)."""

    outcome: str

    def list_events(self, query: EventQuery) -> tuple[str, list[Any]]:
        where, args = event_where(query, "?", self.outcome)
        sql = f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY received_at DESC, id DESC LIMIT ?"
        return sql, [*args, query.limit]


SQLITE = Dialect(outcome="json_extract(envelope, '$.data.run.outcome')")
POSTGRES = Dialect(outcome="(envelope -> 'data' -> 'run' ->> 'outcome')")


def pg_text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; free text from outside (subjects, responses,
    error reasons) gets U+FFFD instead, so the row is stored rather than refused."""
    return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


def pg_clean(args: Sequence[Any]) -> list[Any]:
    """Text from outside (names, run ids) as PostgreSQL can hold it, in lookups and writes alike."""
    return [pg_text(v) if isinstance(v, str) else v for v in args]
