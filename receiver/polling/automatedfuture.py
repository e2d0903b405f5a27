"""Automated Future: a test result's status, read with ``GET /result/{id}`` (automatedfuture-api.txt).

What its API lets Hookyard follow, and what not:

- a **test result** by id: ``GET /result/{test_result_id}`` answers its status (Pending,
  Running, Passed, Failed, Skipped, KnownFail), error message, times and its run's id and
  label. Each new status is one ``result.reported`` event, normalized by the webhook adapter
  (``receiver.sources.automatedfuture``): ``data.test`` with the outcome, ``data.run`` with
  the parent run. Passed / Failed / Skipped / KnownFail end the poll.
- a **test run** cannot be read: the API documents creating and updating runs (``POST /run/``)
  but no ``GET`` of a run nor a list of a run's results, so a run's status (Pending, Running,
  Completed) and its count snapshot reach Hookyard only from whoever reports them (a rule's
  ``complete_run`` action, or a webhook shaped like a run object). Polling a run id asks
  ``GET /result/{id}`` and fails with the platform's 404.
- nothing to **discover**: the only list endpoint is ``GET /project/`` (projects, not runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.polling.base import Discovered, Fetch, Observation, PollerSpec, PollResult, status_step
from receiver.sinks.outbound import segment
from receiver.sources import automatedfuture

PLATFORM = "automatedfuture"


class AutomatedFuturePoller:
    platform = PLATFORM

    async def poll(self, run_id: str, cursor: Mapping[str, Any], fetch: Fetch) -> PollResult:
        answer = (await fetch(f"/result/{segment(run_id)}", {})).body
        n = automatedfuture.normalize_object(answer)
        test = n.data.get("test") or {}
        status = automatedfuture.status_key(test["status"]) if test.get("status") is not None else None
        # A result with an outcome is finished; Pending and Running have none (RESULT_OUTCOMES).
        final = test.get("outcome") is not None
        key, next_cursor = status_step(cursor, status)
        observations = [Observation(key, n)] if key is not None else []
        return PollResult(answer=answer, observations=observations, final=final, cursor=next_cursor)

    async def discover(self, options: Mapping[str, Any], fetch: Fetch) -> list[Discovered]:
        raise NotImplementedError("Automated Future lists no runs or results (only GET /project/)")


SPEC = PollerSpec(platform=PLATFORM, create=AutomatedFuturePoller, can_discover=False, follows_started_runs=False)
