"""Fusillade: ``GET /api/v1/tests/:id`` ("Get test details + metrics + thresholds",
../shared/platform-docs/fusillade-api.txt), for users whose Hookyard the platform's webhooks
cannot reach.

The answer is read with the webhook adapter's mapping (``receiver/sources/fusillade.py``:
``test_event``), so a polled run carries the same fields as a webhook's: status, outcome (failed
when a threshold was breached), metrics (p95 latency, error rate, …) and thresholds. Each new
status of the documented flow (provisioning → ready → pending → running → completed / failed,
cancelled, stopped) is one observation; the final ones stop the polling. Fusillade documents no
list of tests by status for ``watch:`` (its list is paginated, unfiltered): no ``discover``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.errors import DeliveryError
from receiver.polling.base import Discovered, Fetch, Observation, PollerSpec, PollResult, status_step
from receiver.sinks.outbound import segment
from receiver.sources.base import unknown
from receiver.sources.fusillade import KIND, test_event
from receiver.sources.payload import as_dict, pick
from receiver.sources.vocab import STATUS_TYPES, TIME_PATHS

# The documented status flow, where the shared vocabulary words it otherwise: "failed" is the
# test.failed webhook's "the test encountered a fatal error" (a failed verdict is a completed test
# with a breached threshold).
STATUSES = {**STATUS_TYPES, "provisioning": "run.queued", "pending": "run.queued", "failed": "run.failed"}
FINAL = frozenset({"run.completed", "run.failed", "run.cancelled", "run.stopped"})


class FusilladePoller:
    platform = KIND

    async def poll(self, run_id: str, cursor: Mapping[str, Any], fetch: Fetch) -> PollResult:
        answer = (await fetch(f"/api/v1/tests/{segment(run_id)}", {})).body
        # The test itself, or wrapped in {"test": {...}}.
        test = as_dict(answer.get("test")) if isinstance(answer, dict) else None
        test = test or as_dict(answer)
        if test is None:
            raise DeliveryError("the answer is not a JSON object", retryable=True)
        status = test.get("status")
        if not isinstance(status, str) or not status:
            raise DeliveryError("the answer names no test status", retryable=True)
        kind = STATUSES.get(status.lower())
        final = kind in FINAL
        key, next_cursor = status_step(cursor, status)
        if key is None:
            return PollResult(answer, [], final, next_cursor)
        if kind is None:  # a status the docs do not name: visible as fusillade.unknown, polling goes on
            normalized = unknown(KIND, f"unknown test status {status!r}", answer, platform_event="poll")
        else:
            data = {"test_id": run_id, **test}
            normalized = test_event(kind, "poll", data, pick(test, *TIME_PATHS), answer)
        return PollResult(answer, [Observation(key, normalized)], final, next_cursor)

    async def discover(self, options: Mapping[str, Any], fetch: Fetch) -> list[Discovered]:
        raise NotImplementedError("Fusillade documents no list of tests by status")


SPEC = PollerSpec(platform=KIND, create=FusilladePoller)
