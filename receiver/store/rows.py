"""Row shapes shared by both backends: column lists and row → dataclass builders.

JSON columns come back as text from SQLite and already parsed from PostgreSQL, so the
builders take the backend's decoder for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from receiver import jsonutil
from receiver.store.base import DeliveryRow, DeliveryState, EventRow

Decode = Callable[[Any], Any]

EVENT_COLUMNS = (
    "id, source_id, kind, type, subject, received_at, body, headers, envelope, normalize_error, "
    "parent_id, correlation_id, depth, rules_version, matched_rules"
)
DELIVERY_COLUMNS = (
    "id, event_id, rule, action_index, sink_id, emit, params, state, attempts, created_at, updated_at, "
    "next_attempt_at, lease_until, lease_owner, last_error, ordering_key, ordering_time, replay_of, budget_start"
)
ATTEMPT_COLUMNS = (
    "delivery_id, number, started_at, finished_at, duration_ms, outcome, status_code, error_class, reason, "
    "response_excerpt"
)
# Statements both backends run as written (``%s`` placeholders; SQLite swaps in ``?``).
# A worker renews the lease of a delivery it is still sending, so nobody claims it meanwhile.
RENEW_LEASE = "UPDATE deliveries SET lease_until = %s WHERE id = %s AND lease_owner = %s AND state = 'in_progress'"
# When the longest-waiting due delivery became due: queued/retrying work past its time, or
# claimed work whose lease ran out (its worker died). NULL when nothing is due.
OLDEST_DUE = (
    "SELECT MIN(CASE WHEN state = 'in_progress' THEN lease_until ELSE next_attempt_at END) FROM deliveries "
    "WHERE (state IN ('queued', 'retrying') AND next_attempt_at <= %s) OR (state = 'in_progress' AND lease_until < %s)"
)
DELIVERY_WIDTH = len(DELIVERY_COLUMNS.split(","))


def envelope_json(envelope: dict[str, Any]) -> str:
    """The envelope without ``raw``: raw is the parsed body, which is stored already."""
    return jsonutil.dumps({k: v for k, v in envelope.items() if k != "raw"})


def with_raw(stored: dict[str, Any], body: bytes) -> dict[str, Any]:
    envelope = dict(stored)
    try:
        envelope["raw"] = jsonutil.loads(body)
    except ValueError:  # not JSON (or not UTF-8): the adapter kept raw as None too
        envelope["raw"] = None
    return envelope


def event_row(r: Sequence[Any], decode: Decode) -> EventRow:
    body = bytes(r[6])
    return EventRow(
        id=r[0], source_id=r[1], kind=r[2], type=r[3], subject=r[4], received_at=r[5], body=body,
        headers=decode(r[7]), envelope=with_raw(decode(r[8]), body), normalize_error=r[9], parent_id=r[10],
        correlation_id=r[11], depth=r[12], rules_version=r[13], matched_rules=decode(r[14]),
    )  # fmt: skip


def delivery_row(r: Sequence[Any], decode: Decode) -> DeliveryRow:
    return DeliveryRow(
        id=r[0], event_id=r[1], rule=r[2], action_index=r[3], sink_id=r[4], emit=r[5],
        params=None if r[6] is None else decode(r[6]), state=DeliveryState(r[7]), attempts=r[8],
        created_at=r[9], updated_at=r[10], next_attempt_at=r[11], lease_until=r[12], lease_owner=r[13],
        last_error=r[14], ordering_key=r[15], ordering_time=r[16], replay_of=r[17], budget_start=r[18],
    )  # fmt: skip
