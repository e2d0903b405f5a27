"""Row shapes shared by both backends: column lists and row → dataclass builders.

JSON columns come back as text from SQLite and already parsed from PostgreSQL, so the
builders take the backend's decoder for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from receiver import jsonutil
from receiver.store.base import DeliveryRow, DeliveryState, EventRow, NewDelivery, NewEvent

Decode = Callable[[Any], Any]

EVENT_COLUMNS = (
    "id, source_id, kind, type, subject, received_at, body, headers, envelope, normalize_error, "
    "parent_id, correlation_id, depth, rules_version, matched_rules"
)
DELIVERY_COLUMNS = (
    "id, event_id, rule, action_index, sink_id, emit, params, state, attempts, created_at, updated_at, "
    "next_attempt_at, lease_until, lease_owner, last_error, ordering_key, ordering_time, replay_of, budget_start, "
    "quieted_by"
)
ATTEMPT_COLUMNS = (
    "delivery_id, number, started_at, finished_at, duration_ms, outcome, status_code, error_class, reason, "
    "response_excerpt"
)
DELIVERY_WIDTH = len(DELIVERY_COLUMNS.split(","))


Text = Callable[[str | None], str | None]


def to_json(value: Any) -> str:
    """Every JSON column's text (headers, envelope, params, rule names), on both backends."""
    return jsonutil.dumps(value)


def envelope_json(envelope: dict[str, Any]) -> str:
    """The envelope without ``raw``: raw is the parsed body, which is stored already."""
    return to_json({k: v for k, v in envelope.items() if k != "raw"})


def as_is(value: str | None) -> str | None:
    return value


def event_args(ev: NewEvent, text: Text = as_is) -> tuple[Any, ...]:
    """``sql.INSERT_EVENT``'s arguments; ``text`` cleans free text the backend cannot hold."""
    return (
        ev.id, ev.source_id, ev.kind, text(ev.type), text(ev.subject), ev.received_at, ev.body_sha256,
        to_json(ev.headers), ev.body, envelope_json(ev.envelope), text(ev.normalize_error), ev.parent_id,
        ev.correlation_id, ev.depth, ev.rules_version, to_json(ev.matched_rules),
    )  # fmt: skip


def delivery_args(d: NewDelivery, event_id: str, now: float, text: Text = as_is) -> tuple[Any, ...]:
    """``sql.INSERT_DELIVERY``'s arguments."""
    return (
        d.id, event_id, d.rule, d.action_index, d.sink_id, d.emit, None if d.params is None else to_json(d.params),
        d.state.value, now, now, now, text(d.last_error), d.ordering_key, now if d.ordering_key else None, now,
        d.replay_of,
    )  # fmt: skip


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
        quieted_by=r[19],
    )  # fmt: skip
