"""Rows of the delivery log as plain JSON-ready dicts: one shape for the API, the page and the CLI."""

from __future__ import annotations

from typing import Any

from receiver.events import isoformat
from receiver.sinks.base import redact_params
from receiver.store.base import AttemptRow, DeliveryRow, EventRow


def attempt_dict(a: AttemptRow) -> dict[str, Any]:
    return {
        "number": a.number,
        "started_at": isoformat(a.started_at),
        "duration_ms": round(a.duration_ms, 1),
        "outcome": a.outcome,
        "status": a.status_code,
        "error_class": a.error_class,
        "reason": a.reason,
        "response_excerpt": a.response_excerpt,
    }


def delivery_dict(d: DeliveryRow, attempts: list[AttemptRow]) -> dict[str, Any]:
    """A delivery with its attempt log (attempt rows were redacted by the sinks when recorded)."""
    return {
        "id": d.id,
        "event_id": d.event_id,
        "rule": d.rule,
        "action_index": d.action_index,
        "sink": d.sink_id,
        "state": d.state.value,
        "attempts": len(attempts),
        "emit": d.emit,
        "last_error": d.last_error,
        "created_at": isoformat(d.created_at),
        "updated_at": isoformat(d.updated_at),
        "next_attempt_at": isoformat(d.next_attempt_at),
        "replay_of": d.replay_of,
        "params": redact_params(d.params),
        "attempt_log": [attempt_dict(a) for a in attempts],
    }


def event_summary(e: EventRow) -> dict[str, Any]:
    """What a list of events shows: no body, headers or envelope."""
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
    }


def body_text(body: bytes) -> str | None:
    """The raw body when it is text (UTF-8 without control bytes other than whitespace), else None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return None
    return text


def event_dict(e: EventRow) -> dict[str, Any]:
    """One event in full: envelope, stored headers (credentials were dropped at ingest), raw body."""
    return {
        **event_summary(e),
        "headers": e.headers,
        "envelope": e.envelope,
        "body_size": len(e.body),
        "body": body_text(e.body),
    }
