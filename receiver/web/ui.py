"""The ``/ui`` routes: the delivery log's pages (``views``) and the runs pages (``runs_views``)."""

from __future__ import annotations

from starlette.routing import Route

from receiver.web.auth import Endpoint, Guard
from receiver.web.html import HERE, Static
from receiver.web.runs_views import RunViews
from receiver.web.service import DeliveryLog
from receiver.web.silences_views import SilenceViews
from receiver.web.views import Views, html_errors


def ui_routes(log: DeliveryLog, guard: Guard) -> list[Route]:
    views = Views(log, guard)
    runs = RunViews(views, log)
    quiet = SilenceViews(views, log)

    def route(path: str, endpoint: Endpoint, method: str) -> Route:
        return Route(path, guard.protect(html_errors(views, endpoint), views.deny, ui=True), methods=[method])

    login_guard = guard.public if guard.token_required else (lambda e: guard.protect(e, views.deny, ui=True))
    return [
        route("/ui", views.events, "GET"),
        route("/ui/events/{event_id}", views.event, "GET"),
        route("/ui/events/{event_id}/replay", views.replay_confirm, "GET"),
        route("/ui/events/{event_id}/replay", views.replay, "POST"),
        route("/ui/deliveries", views.deliveries, "GET"),
        route("/ui/runs", runs.runs, "GET"),
        route("/ui/runs/{run_key}", runs.run, "GET"),
        route("/ui/deliveries/{delivery_id}", views.delivery, "GET"),
        route("/ui/deliveries/{delivery_id}/retry", views.retry, "POST"),
        route("/ui/sinks/{sink_id}/retry-dead", views.retry_dead, "POST"),
        route("/ui/silences", quiet.silences, "GET"),
        route("/ui/silences", quiet.add, "POST"),
        route("/ui/silences/{silence_id}/expire", quiet.expire, "POST"),
        # With a token, the login form must be reachable without one; without, it only redirects.
        Route("/ui/login", login_guard(html_errors(views, views.login_form)), methods=["GET"]),
        Route("/ui/login", login_guard(html_errors(views, views.login)), methods=["POST"]),
        route("/ui/logout", views.logout, "POST"),
        Route("/ui/static/{name}", Static(HERE / "static").serve, methods=["GET"]),
        Route("/ui/static/vendor/{name}", Static(HERE / "static" / "vendor").serve, methods=["GET"]),
    ]
