"""The inbound pipeline for one request: verify → normalize → run → plan → store.

``Ingest.receive`` reads like the data-flow diagram in DESIGN.md. It answers only
after the store has committed the event and its deliveries.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from receiver.config import Config, Source
from receiver.errors import NotFound, VerificationError
from receiver.events import Normalized, build_envelope, new_id
from receiver.logfmt import LogThrottle
from receiver.metrics import Metrics
from receiver.routing import Plan, Router
from receiver.runs import track as runs
from receiver.secret import stored_headers
from receiver.sources.base import safe_normalize
from receiver.store.base import NewEvent, SaveResult, Store
from receiver.verify.base import RawRequest, Verified

log = logging.getLogger("hookyard.ingest")
REJECTION_LOG_SECONDS = 10.0


@dataclass
class Ingest:
    config: Config
    store: Store
    router: Router
    metrics: Metrics
    clock: Callable[[], float]
    on_stored: Callable[[], None] = lambda: None
    # Rejected requests are logged by (source, code, client) at most once per period (hook_route).
    rejection_log: LogThrottle = field(default_factory=lambda: LogThrottle(REJECTION_LOG_SECONDS))

    def source(self, source_id: str) -> Source:
        src = self.config.sources.get(source_id)
        if src is None:
            raise NotFound(f"no source {source_id!r}", code="unknown_source")
        return src

    async def receive(self, src: Source, req: RawRequest) -> SaveResult:
        now = self.clock()
        try:
            verified = src.verifier.verify(req, now)
        except VerificationError as exc:
            self.metrics.rejected(src.id, exc.code)  # logged with the client address by hook_route
            raise
        normalized = safe_normalize(src.adapter, req)
        event_id = new_id("evt", now)
        envelope = build_envelope(normalized, event_id=event_id, source_id=src.id, received_at=now)
        keys = dedupe_keys(src, req, verified)
        event = stored_event(
            src,
            req,
            normalized,
            envelope,
            None,
            now,
            dedupe_keys=keys,
            # A provider delivery id names redeliveries exactly; only without one does
            # an identical body within the window count as a redelivery.
            dedupe_window=0.0 if keys and keys[0].startswith("id:") else src.dedupe_window,
        )
        # The run (when the event names one) is merged and the event enriched, then planned.
        result, planned = await runs.save(self.store, event, self.router.plan, now)
        self.metrics.received(src.id, result.duplicate)
        if not result.duplicate:
            if planned:
                self.on_stored()
            log.debug("stored event=%s source=%s type=%s", event_id, src.id, normalized.type)
        return result


def dedupe_keys(src: Source, req: RawRequest, verified: Verified) -> list[str]:
    delivery_id = verified.delivery_id
    if delivery_id is None and src.delivery_id_header:
        delivery_id = req.header(src.delivery_id_header)
    if delivery_id:
        return [f"id:{delivery_id}"]
    if verified.signature:
        return ["sig:" + hashlib.sha256(verified.signature.encode()).hexdigest()]
    return []


def stored_event(
    src: Source,
    req: RawRequest,
    normalized: Normalized,
    envelope: dict[str, Any],
    plan: Plan | None,
    now: float,
    **extra: Any,
) -> NewEvent:
    """The row for a normalized request: a webhook's, or a stored one normalized again
    (``renormalize``). ``extra`` carries what only one of them knows (dedupe keys, parent).
    Without ``plan`` the row is planned later (run tracking plans the enriched envelope)."""
    return NewEvent(
        id=envelope["id"],
        source_id=src.id,
        kind=src.kind,
        type=normalized.type,
        subject=normalized.subject,
        received_at=now,
        body=req.body,
        body_sha256=hashlib.sha256(req.body).hexdigest(),
        headers=stored_headers(req.headers, src.private_headers),
        envelope=envelope,
        correlation_id=envelope["correlation_id"],
        normalize_error=normalized.normalize_error,
        rules_version=plan.rules_version if plan else None,
        matched_rules=plan.matched_rules if plan else [],
        **extra,
    )
