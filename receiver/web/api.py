"""The JSON API of the delivery log (``/api``). Errors are ``{"error", "code"}`` with a 4xx.

Each endpoint is one row of ``API``: its path, method, the model of its answer and its
query parameters. The routes and ``/api/openapi.json`` are both made from that table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.runs.model import TRANSITIONS
from receiver.sources.fields import OUTCOMES
from receiver.web import models
from receiver.web.auth import Guard, json_deny
from receiver.web.openapi import Endpoint, Param, openapi_endpoint
from receiver.web.params import DELIVERY_FILTERS, STATES, parse_delivery_query, parse_event_filter
from receiver.web.present import delivery_model, event_model, plan_model, summary_model
from receiver.web.runs_api import RunsApi
from receiver.web.service import DeliveryLog
from receiver.web.silences_api import SILENCE_API, SilencesApi


def answer(model: BaseModel, status: int = 200) -> Response:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


LIMIT = Param("limit", "how many, 1 to 500 (default 50)")
EVENT_PARAMS = (
    Param("source", "source id"),
    Param("type", "event type, or a glob: run.*"),
    Param("sink", "with a delivery to this sink"),
    Param("rule", "with a delivery from this rule"),
    Param(
        "delivery",
        "with a delivery in this state (with sink/rule: the same delivery); none: no delivery at all; "
        "not_succeeded: no delivery succeeded (nobody was notified)",
        DELIVERY_FILTERS,
    ),
    Param("outcome", "data.run.outcome", OUTCOMES),
    Param("since", "received at or after: seconds since the epoch or ISO 8601"),
    Param("q", "text in the event id or subject (any case)"),
    Param("before", "an event id: the page after it (next_before of the previous page)"),
    LIMIT,
)
DELIVERY_PARAMS = (
    Param("state", "in this state", STATES),
    Param("event", "of this event id"),
    Param("sink", "to this sink"),
    LIMIT,
)
RUN_PARAMS = (
    Param("platform", "data.run's platform: fusillade, github, …"),
    Param("name", "the test's name (data.run.name)"),
    Param("branch", "git branch"),
    Param("pr", "pull request number"),
    Param("outcome", "how the run ended", OUTCOMES),
    Param("transition", "how it compares with the previous finished run of the same test", TRANSITIONS),
    Param("before", "a run key: the page after it (next_before of the previous page)"),
    LIMIT,
)
API = (
    Endpoint("/api/events", "GET", "Events, newest first", "events", models.EventList, params=EVENT_PARAMS),
    Endpoint("/api/events/{event_id}", "GET", "One event with its deliveries", "event", models.EventDetail),
    Endpoint(
        "/api/events/{event_id}/replay",
        "POST",
        "Route a stored event again under the current rules",
        "replay",
        models.ReplayPlan,
        ok_status=(200, 201, 202),
        params=(Param("renormalize", "true: normalize the stored body and headers again with the source's current "
                      "adapter, store that as a new event linked to this one, and route the new event"),),
    ),
    Endpoint("/api/deliveries", "GET", "Deliveries, newest first", "deliveries", models.DeliveryList,
             params=DELIVERY_PARAMS),
    Endpoint("/api/deliveries/{delivery_id}", "GET", "One delivery with its attempts", "delivery", models.Delivery),
    Endpoint(
        "/api/deliveries/{delivery_id}/retry",
        "POST",
        "Queue a dead, suppressed or silenced delivery again (409 otherwise)",
        "retry",
        models.RetriedDelivery,
        errors=(400, 401, 403, 409, 429),
    ),
    Endpoint(
        "/api/sinks/{sink_id}/retry-dead", "POST", "Queue every dead delivery of a sink again", "retry_dead",
        models.RetriedDead,
    ),
    Endpoint("/api/stats", "GET", "Counts", "stats", models.Stats),
    Endpoint("/api/runs", "GET", "Test runs, newest first", "runs", models.RunList, params=RUN_PARAMS),
    Endpoint("/api/runs/{run_key}", "GET", "One run with its events", "run", models.RunDetail),
    *SILENCE_API,
)


class Api(RunsApi, SilencesApi):
    def __init__(self, log: DeliveryLog) -> None:
        RunsApi.__init__(self, log.store, log.clock)
        SilencesApi.__init__(self, log.store, log.clock)
        self.log = log

    async def events(self, request: Request) -> Response:
        page = await self.log.events(parse_event_filter(request.query_params))
        return answer(
            models.EventList(
                events=[summary_model(e, page.delivery_states.get(e.id, {})) for e in page.events],
                next_before=page.next_before,
                scanned=page.scanned,
            )
        )

    async def event(self, request: Request) -> Response:
        d = await self.log.event(request.path_params["event_id"])
        return answer(
            models.EventDetail(
                event=event_model(d.event),
                deliveries=[delivery_model(x.row, x.attempts) for x in d.deliveries],
                more_deliveries=d.more_deliveries,
                parent=summary_model(d.parent) if d.parent else None,
                root=summary_model(d.root) if d.root else None,
                children=[summary_model(c) for c in d.children],
            )
        )

    async def replay(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        if request.query_params.get("renormalize", "").lower() in ("1", "true", "yes"):
            done = await self.log.renormalize(event_id)
            renormalized = plan_model(done.event_id, done.plan).model_copy(
                update={"renormalized_from": event_id, "changed": list(done.changed)}
            )
            # 201: a new event was stored even when no rule routes it.
            return answer(renormalized, 202 if done.plan.deliveries else 201)
        plan = await self.log.replay(event_id)
        return answer(plan_model(event_id, plan), 202 if plan.deliveries else 200)

    async def deliveries(self, request: Request) -> Response:
        found = await self.log.deliveries(parse_delivery_query(request.query_params))
        return answer(models.DeliveryList(deliveries=[delivery_model(d.row, d.attempts) for d in found]))

    async def delivery(self, request: Request) -> Response:
        d = await self.log.delivery(request.path_params["delivery_id"])
        return answer(delivery_model(d.row, d.attempts, d.group, d.members))

    async def retry(self, request: Request) -> Response:
        d, result = await self.log.retry(request.path_params["delivery_id"])
        return answer(models.RetriedDelivery(**delivery_model(d.row, d.attempts).model_dump(), message=result.message))

    async def retry_dead(self, request: Request) -> Response:
        sink_id = request.path_params["sink_id"]
        return answer(models.RetriedDead(sink=sink_id, requeued=await self.log.retry_dead(sink_id)))

    async def stats(self, request: Request) -> Response:
        return answer(models.Stats.model_validate(await self.log.stats()))


def api_routes(log: DeliveryLog, guard: Guard) -> list[Route]:
    api = Api(log)
    routes = []
    for e in API:
        handler: Callable[[Request], Awaitable[Response]] = getattr(api, e.handler)
        routes.append(Route(e.path, guard.protect(handler, json_deny, ui=False), methods=[e.method]))
    document = guard.protect(openapi_endpoint(API), json_deny, ui=False)
    routes.append(Route("/api/openapi.json", document, methods=["GET"]))
    return routes
