"""The delivery log for people: a web page (``/ui``) and a JSON API (``/api``).

Both read the same store through :class:`~receiver.web.service.DeliveryLog` and share
the access rules of :mod:`receiver.web.auth` (which also guard ``/metrics`` and ``/readyz``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from starlette.routing import Route

if TYPE_CHECKING:
    from receiver.app import Hookyard
    from receiver.web.auth import Guard


def guard_for(hy: Hookyard) -> Guard:
    """The access rules of one app (one per app: it holds the throttle and the form key)."""
    from receiver.web.auth import Guard, Store

    config = hy.config
    return Guard(config.web_token, cast(Store, hy.store), hy.clock, ops_need_token=config.metrics_need_token)


def routes(hy: Hookyard, guard: Guard) -> list[Route]:
    """The ``/api`` and ``/ui`` routes (plain Routes: ``create_app`` appends them to its own list)."""
    from receiver.web.api import api_routes
    from receiver.web.service import DeliveryLog
    from receiver.web.views import ui_routes

    log = DeliveryLog(hy)
    return [*api_routes(log, guard), *ui_routes(log, guard)]
