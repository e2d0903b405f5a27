"""Re-normalize a stored event: the current adapter of its source on the stored raw body
and headers, stored as a new event linked to the original, then routed.

For after a source's ``normalize:`` mapping was fixed: a plain replay routes the envelope
made at receipt, which the fix does not change. The original stays as it was (the log is
history); the new event names it as ``parent_id`` and shares its ``correlation_id``, and its
deliveries carry ``replay_of`` = the original. It is not verified again (the stored body was
verified when it arrived; the secrets may have rotated since) and not deduplicated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from receiver.config import Config
from receiver.errors import HTTPError
from receiver.events import new_event
from receiver.rules import Plan, Router
from receiver.sources.base import safe_normalize
from receiver.verify.base import RawRequest

# What an envelope says about the payload (not when or under which id it was stored).
_COMPARED = ("type", "subject", "platform", "platform_event", "data", "normalize_error")


@dataclass(frozen=True)
class Renormalized:
    original_id: str
    event_id: str
    envelope: dict[str, Any]
    plan: Plan
    changed: list[str]  # the envelope fields that differ from the original's


class CannotRenormalize(HTTPError):
    """Why this event cannot be re-normalized (a 404 or 409 on the API)."""

    status = 409
    code = "not_renormalizable"


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [k for k in _COMPARED if old.get(k) != new.get(k)]


async def renormalize_event(store: Any, config: Config, router: Router, event_id: str, now: float) -> Renormalized:
    row = await store.get_event(event_id)
    if row is None:
        raise CannotRenormalize(f"no event {event_id}", code="event_not_found", status=404)
    src = config.sources.get(row.source_id)
    if src is None:
        what = "a derived event (an action's answer)" if row.parent_id else "its source"
        raise CannotRenormalize(
            f"event {event_id} came from {row.source_id!r}, which is not a configured source now; "
            f"{what} has no adapter to run again"
        )
    request = RawRequest(body=row.body, headers=row.headers)
    normalized = safe_normalize(src.adapter, request)
    event = new_event(
        normalized, source_id=src.id, kind=src.kind, received_at=now, body=row.body, headers=row.headers,
        parent=row.envelope, private_headers=src.private_headers, depth=row.depth,
    )  # fmt: skip
    plan = router.plan(event.envelope, replay_of=row.id)
    event = replace(event, rules_version=plan.rules_version, matched_rules=plan.matched_rules)
    await store.save_event(event, plan.deliveries)
    return Renormalized(row.id, event.id, event.envelope, plan, changed_fields(row.envelope, event.envelope))
