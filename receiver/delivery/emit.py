"""``emit:``: a successful answer becomes a derived event, routed like any other.

The dispatcher stores it — with its own planned deliveries — in the same transaction
that records the success, so a chain step is never lost or doubled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from receiver.events import Normalized, new_event
from receiver.rules import Plan, Router
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
    normalized = Normalized(
        type=d.emit or "response",
        platform=parent.get("platform") or "hookyard",
        subject=parent.get("subject"),
        data=data,
        raw=result.body,
    )
    body = json.dumps(result.body).encode() if result.body is not None else (result.response_excerpt or "").encode()
    event = new_event(
        normalized,
        source_id=d.sink_id,
        kind="derived",
        received_at=now,
        body=body,
        headers=result.headers,
        parent=parent,
        depth=depth,
        # Recording the success again (a crash between send and commit) must not emit twice.
        dedupe_keys=[f"emit:{d.id}"],
    )
    if depth > max_depth:
        note = f"chain depth {depth} exceeds delivery.max_chain_depth ({max_depth}): not routed"
        log.warning("event %s: %s", event.id, note)
        return dataclasses.replace(event, normalize_error=note), []
    plan: Plan = router.plan(event.envelope)
    event = dataclasses.replace(event, rules_version=plan.rules_version, matched_rules=plan.matched_rules)
    return event, plan.deliveries
