"""``GET /api/runs`` and ``GET /api/runs/{run_key}``: runs with their events (JSON).

The endpoints are rows of ``api.API`` (so they are in the OpenAPI document); these are their handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver.errors import NotFound
from receiver.polling.present import run_poll
from receiver.runs.present import is_run_key, run_dict, run_query
from receiver.store import Store
from receiver.store.runs import RunRow
from receiver.web import models
from receiver.web.params import parse_limit
from receiver.web.present import summary_model

RUN_EVENTS = 1000  # a run has a handful of events; more than this is not a run worth listing whole


def run_model(r: RunRow) -> models.Run:
    return models.Run(**run_dict(r))


class RunsApi:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.runs_store = store
        self.clock = clock

    async def find_run(self, key: str) -> RunRow:
        """The run ``key`` names (404 ``unknown_run`` otherwise): for the API and the page."""
        row = await self.runs_store.get_run(key) if is_run_key(key) else None
        if row is None:
            raise NotFound(f"no run {key[:100]!r}", code="unknown_run")
        return row

    async def runs(self, request: Request) -> Response:
        query = run_query(request.query_params, parse_limit(request.query_params))
        rows = await self.runs_store.list_runs(query)
        more = len(rows) == query.limit
        answer = models.RunList(runs=[run_model(r) for r in rows], next_before=rows[-1].key if more else None)
        return JSONResponse(answer.model_dump(mode="json"))

    async def run(self, request: Request) -> Response:
        row = await self.find_run(request.path_params["run_key"])
        events = await self.runs_store.run_events(row.key, RUN_EVENTS)
        polled = await run_poll(self.runs_store, row.source_id, row.run_id, self.clock())
        poll = models.RunPoll.model_validate(polled) if polled is not None else None
        answer = models.RunDetail(run=run_model(row), events=[summary_model(e) for e in events], poll=poll)
        return JSONResponse(answer.model_dump(mode="json"))
