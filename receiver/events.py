"""The normalized event envelope (CloudEvents 1.0 attribute names) and the stored row of a new event.

An adapter produces a :class:`Normalized` value; ``build_envelope`` adds the
attributes only the receiver knows (id, source, received_at, chain links).
The field list is documented in ``docs/events.md`` and published as a JSON Schema
in ``receiver/schema/event.schema.json``. ``new_event`` makes the stored row of every new
event: a webhook's (ingest), one normalized again (renormalize), an action's answer (emit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from receiver.ids import new_id
from receiver.secret import stored_headers
from receiver.store.base import NewEvent

SPECVERSION = "1.0"

def isoformat(ts: float) -> str:
    """RFC 3339 UTC with millisecond precision, e.g. ``2026-02-06T12:00:00.000Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Normalized:
    """What an adapter knows about one webhook.

    ``type`` is the normalized type (``run.completed``, ``<kind>.unknown`` …);
    ``data`` holds the ``run``/``metrics``/``counts``/``thresholds``/``test``/``bug``/
    ``git`` sections that apply (absent when unknown, never invented);
    ``raw`` is the parsed original payload (None when the body is not JSON).
    """

    type: str
    platform: str
    platform_event: str | None = None
    subject: str | None = None
    time: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    normalize_error: str | None = None


def build_envelope(
    n: Normalized,
    *,
    event_id: str,
    source_id: str,
    received_at: float,
    parent_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """The stored and routed form of an event. Root events correlate to themselves."""
    received = isoformat(received_at)
    env: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event_id,
        "source": source_id,
        "type": n.type,
        "subject": n.subject,
        "time": n.time or received,
        "datacontenttype": "application/json",
        "platform": n.platform,
        "platform_event": n.platform_event,
        "received_at": received,
        "correlation_id": correlation_id or event_id,
        "parent_id": parent_id,
        "data": n.data,
        "raw": n.raw,
    }
    if n.normalize_error is not None:
        env["normalize_error"] = n.normalize_error
    return env


def new_event(
    n: Normalized,
    *,
    source_id: str,
    kind: str,
    received_at: float,
    body: bytes,
    headers: Mapping[str, str],
    parent: Mapping[str, Any] | None = None,
    private_headers: Collection[str] = (),
    **fields: Any,
) -> NewEvent:
    """The row of a new event: a fresh id, its envelope (linked to ``parent``'s envelope when it
    derives from one), and the request's headers without the secret ones (``private_headers``:
    more lower-case names to leave out). ``fields`` sets what only the caller knows (depth,
    dedupe keys, the plan's rules version and matched rules, a note as ``normalize_error``)."""
    event_id = new_id("evt", received_at)
    parent_id = parent["id"] if parent is not None else None
    envelope = build_envelope(
        n,
        event_id=event_id,
        source_id=source_id,
        received_at=received_at,
        parent_id=parent_id,
        correlation_id=(parent.get("correlation_id") or parent_id) if parent is not None else None,
    )
    row: dict[str, Any] = {
        "id": event_id,
        "source_id": source_id,
        "kind": kind,
        "type": n.type,
        "subject": n.subject,
        "received_at": received_at,
        "body": body,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "headers": stored_headers(headers, private_headers),
        "envelope": envelope,
        "correlation_id": envelope["correlation_id"],
        "normalize_error": n.normalize_error,
        "parent_id": parent_id,
    }
    row.update(fields)
    return NewEvent(**row)
