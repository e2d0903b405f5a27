"""``GET /api/runs`` and ``GET /api/runs/{run_key}``: runs with their events (JSON)."""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.errors import NotFound
from receiver.runs.present import is_run_key, run_dict, run_query
from receiver.store.runs import RunStore
from receiver.web.auth import Guard, json_deny
from receiver.web.params import parse_limit
from receiver.web.present import event_summary

RUN_EVENTS = 1000  # a run has a handful of events; more than this is not a run worth listing whole


class RunsApi:
    def __init__(self, store: RunStore) -> None:
        self.store = store

    async def runs(self, request: Request) -> Response:
        query = run_query(request.query_params, parse_limit(request.query_params))
        rows = await self.store.list_runs(query)
        more = len(rows) == query.limit
        return JSONResponse({"runs": [run_dict(r) for r in rows], "next_before": rows[-1].key if more else None})

    async def run(self, request: Request) -> Response:
        key = request.path_params["run_key"]
        row = await self.store.get_run(key) if is_run_key(key) else None
        if row is None:
            raise NotFound(f"no run {key[:100]!r}", code="unknown_run")
        events = await self.store.run_events(key, RUN_EVENTS)
        return JSONResponse({"run": run_dict(row), "events": [event_summary(e) for e in events]})


def runs_routes(store: Any, guard: Guard) -> list[Route]:
    api = RunsApi(cast(RunStore, store))

    def route(path: str, endpoint: Any) -> Route:
        return Route(path, guard.protect(endpoint, json_deny, ui=False), methods=["GET"])

    return [route("/api/runs", api.runs), route("/api/runs/{run_key}", api.run)]
