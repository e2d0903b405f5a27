"""Rows of the delivery log as API models (``models.py``): one shape for the API, the page and the CLI."""

from __future__ import annotations

from typing import Any

from receiver import jsonutil
from receiver.events import isoformat
from receiver.rules import Plan
from receiver.sinks.base import redact_params
from receiver.store.base import AttemptRow, DeliveryRow, EventRow
from receiver.store.groups import GroupRow
from receiver.web import models


def attempt_model(a: AttemptRow) -> models.Attempt:
    return models.Attempt(
        number=a.number,
        started_at=isoformat(a.started_at),
        duration_ms=round(a.duration_ms, 1),
        outcome=a.outcome,
        status=a.status_code,
        error_class=a.error_class,
        reason=a.reason,
        response_excerpt=a.response_excerpt,
    )


def delivery_model(
    d: DeliveryRow, attempts: list[AttemptRow], group: GroupRow | None = None, members: list[str] | None = None
) -> models.Delivery:
    """A delivery with its attempt log (attempt rows were redacted by the sinks when recorded), and
    for a grouped action's delivery its group (``members``: event ids, oldest first)."""
    return models.Delivery(
        id=d.id,
        event_id=d.event_id,
        rule=d.rule,
        action_index=d.action_index,
        sink=d.sink_id,
        state=d.state.value,
        attempts=len(attempts),
        emit=d.emit,
        last_error=d.last_error,
        last_reason=attempts[-1].reason if attempts else None,
        created_at=isoformat(d.created_at),
        updated_at=isoformat(d.updated_at),
        next_attempt_at=isoformat(d.next_attempt_at),
        replay_of=d.replay_of,
        params=redact_params(d.params),
        attempt_log=[attempt_model(a) for a in attempts],
        quieted_by=d.quieted_by,
        group=group_model(group, members or []) if group is not None else None,
    )


def group_model(g: GroupRow, members: list[str]) -> models.Group:
    return models.Group(id=g.id, key=jsonutil.loads(g.key), count=g.members, first_at=isoformat(g.first_at),
                        sent_at=isoformat(g.sent_at) if g.sent_at is not None else None, events=members)  # fmt: skip


def delivery_dict(
    d: DeliveryRow, attempts: list[AttemptRow], group: GroupRow | None = None, members: list[str] | None = None
) -> dict[str, Any]:
    return delivery_model(d, attempts, group, members).model_dump(mode="json")


def _run_field(e: EventRow, name: str) -> str | None:
    data = e.envelope.get("data")
    run = data.get("run") if isinstance(data, dict) else None
    value = run.get(name) if isinstance(run, dict) else None
    return value if isinstance(value, str) else None


def _summary_fields(e: EventRow) -> dict[str, Any]:
    return {
        "id": e.id,
        "source": e.source_id,
        "kind": e.kind,
        "type": e.type,
        "subject": e.subject,
        "received_at": isoformat(e.received_at),
        "normalize_error": e.normalize_error,
        "parent_id": e.parent_id,
        "correlation_id": e.correlation_id,
        "depth": e.depth,
        "rules_version": e.rules_version,
        "matched_rules": e.matched_rules,
        "run_name": _run_field(e, "name"),
        "outcome": _run_field(e, "outcome"),
    }


def _shown(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with what strict JSON cannot hold escaped (jsonutil), and ``render_notes`` saying where."""
    shown, notes = jsonutil.renderable(fields)
    shown["render_notes"] = notes or None
    return shown


def summary_model(e: EventRow, delivery_states: dict[str, int] | None = None) -> models.EventSummary:
    """What a list of events shows: no body, headers or envelope (lists add the delivery states)."""
    return models.EventSummary(**_shown(_summary_fields(e)), delivery_states=delivery_states)


def event_summary(e: EventRow, delivery_states: dict[str, int] | None = None) -> dict[str, Any]:
    return summary_model(e, delivery_states).model_dump(mode="json")


def body_text(body: bytes) -> str | None:
    """The raw body when it is text (UTF-8 without control bytes other than whitespace), else None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return None
    return text


def event_model(e: EventRow) -> models.Event:
    """One event in full: envelope, stored headers (credentials were dropped at ingest), raw body."""
    return models.Event(
        **_shown({**_summary_fields(e), "headers": e.headers, "envelope": e.envelope}),
        body_size=len(e.body),
        body=body_text(e.body),
    )


def event_dict(e: EventRow) -> dict[str, Any]:
    return event_model(e).model_dump(mode="json")


def plan_model(event_id: str, plan: Plan) -> models.ReplayPlan:
    return models.ReplayPlan(
        event_id=event_id,
        rules_version=plan.rules_version,
        matched_rules=plan.matched_rules,
        deliveries=[
            models.PlannedDelivery(
                id=d.id,
                rule=d.rule,
                action_index=d.action_index,
                sink=d.sink_id,
                state=d.state.value,
                last_error=d.last_error,
                replay_of=d.replay_of,
            )
            for d in plan.deliveries
        ],
    )
