"""``emit:``: a successful answer becomes a derived event, routed like any other.

The dispatcher stores it — with its own planned deliveries — in the same transaction
that records the success, so a chain step is never lost or doubled.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from receiver.events import Normalized, build_envelope, new_id
from receiver.routing import Plan, Router
from receiver.secret import stored_headers
from receiver.sinks.base import SendResult
from receiver.store.base import Claimed, NewEvent

log = logging.getLogger("hookyard.delivery")


def derive(c: Claimed, result: SendResult, now: float, router: Router, max_depth: int) -> tuple[NewEvent, list[Any]]:
    """The derived event of delivery ``c`` whose send answered ``result``, and its plan."""
    d = c.delivery
    parent = c.envelope
    depth = c.depth + 1
    data: dict[str, Any] = {"response": result.body}
    for key in ("run", "git"):
        if parent.get("data", {}).get(key) is not None:
            data[key] = parent["data"][key]
    event_id = new_id("evt", now)
    normalized = Normalized(
        type=d.emit or "response", platform=parent.get("platform") or "hookyard", subject=parent.get("subject"),
        data=data, raw=result.body,
    )
    envelope = build_envelope(
        normalized, event_id=event_id, source_id=d.sink_id, received_at=now, parent_id=parent["id"],
        correlation_id=parent.get("correlation_id") or parent["id"],
    )
    note = None
    if depth > max_depth:
        plan = Plan(None)
        note = f"chain depth {depth} exceeds delivery.max_chain_depth ({max_depth}): not routed"
        log.warning("event %s: %s", event_id, note)
    else:
        plan = router.plan(envelope)
    body = json.dumps(result.body).encode() if result.body is not None else (result.response_excerpt or "").encode()
    event = NewEvent(
        id=event_id, source_id=d.sink_id, kind="derived", type=normalized.type, subject=normalized.subject,
        received_at=now, body=body, body_sha256=hashlib.sha256(body).hexdigest(),
        headers=stored_headers(result.headers),
        envelope=envelope, correlation_id=envelope["correlation_id"], normalize_error=note,
        parent_id=parent["id"], depth=depth, rules_version=plan.rules_version, matched_rules=plan.matched_rules,
        # Recording the success again (a crash between send and commit) must not emit twice.
        dedupe_keys=[f"emit:{d.id}"],
    )
    return event, plan.deliveries
