"""The JSON API of the delivery log (``/api``). Errors are ``{"error", "code"}`` with a 4xx."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.routing import Plan
from receiver.web.auth import Guard
from receiver.web.present import delivery_dict, event_dict, event_summary
from receiver.web.service import DeliveryLog, EventDetail, parse_delivery_query, parse_event_filter


def deny(request: Request, status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="hookyard"'} if status == 401 else None
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


def detail_dict(d: EventDetail) -> dict[str, Any]:
    return {
        "event": event_dict(d.event),
        "deliveries": [delivery_dict(x.row, x.attempts) for x in d.deliveries],
        "more_deliveries": d.more_deliveries,
        "parent": event_summary(d.parent) if d.parent else None,
        "root": event_summary(d.root) if d.root else None,
        "children": [event_summary(c) for c in d.children],
    }


def plan_dict(event_id: str, plan: Plan) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "rules_version": plan.rules_version,
        "matched_rules": plan.matched_rules,
        "deliveries": [
            {
                "id": d.id,
                "rule": d.rule,
                "action_index": d.action_index,
                "sink": d.sink_id,
                "state": d.state.value,
                "last_error": d.last_error,
                "replay_of": d.replay_of,
            }
            for d in plan.deliveries
        ],
    }


class Api:
    def __init__(self, log: DeliveryLog) -> None:
        self.log = log

    async def events(self, request: Request) -> Response:
        page = await self.log.events(parse_event_filter(request.query_params))
        return JSONResponse(
            {
                "events": [event_summary(e) for e in page.events],
                "next_before": page.next_before,
                "scanned": page.scanned,
            }
        )

    async def event(self, request: Request) -> Response:
        return JSONResponse(detail_dict(await self.log.event(request.path_params["event_id"])))

    async def replay(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        if request.query_params.get("renormalize", "").lower() in ("1", "true", "yes"):
            done = await self.log.renormalize(event_id)
            body = {**plan_dict(done.event_id, done.plan), "renormalized_from": event_id, "changed": done.changed}
            return JSONResponse(body, status_code=202 if done.plan.deliveries else 201)
        plan = await self.log.replay(event_id)
        return JSONResponse(plan_dict(event_id, plan), status_code=202 if plan.deliveries else 200)

    async def deliveries(self, request: Request) -> Response:
        found = await self.log.deliveries(parse_delivery_query(request.query_params))
        return JSONResponse({"deliveries": [delivery_dict(d.row, d.attempts) for d in found]})

    async def delivery(self, request: Request) -> Response:
        d = await self.log.delivery(request.path_params["delivery_id"])
        return JSONResponse(delivery_dict(d.row, d.attempts))

    async def retry(self, request: Request) -> Response:
        d, result = await self.log.retry(request.path_params["delivery_id"])
        return JSONResponse({**delivery_dict(d.row, d.attempts), "message": result.message})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(await self.log.stats())


def api_routes(log: DeliveryLog, guard: Guard) -> list[Route]:
    api = Api(log)

    def route(path: str, endpoint: Any, method: str) -> Route:
        return Route(path, guard.protect(endpoint, deny, ui=False), methods=[method])

    return [
        route("/api/events", api.events, "GET"),
        route("/api/events/{event_id}", api.event, "GET"),
        route("/api/events/{event_id}/replay", api.replay, "POST"),
        route("/api/deliveries", api.deliveries, "GET"),
        route("/api/deliveries/{delivery_id}", api.delivery, "GET"),
        route("/api/deliveries/{delivery_id}/retry", api.retry, "POST"),
        route("/api/stats", api.stats, "GET"),
    ]
