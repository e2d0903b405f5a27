"""The delivery log for people: a web page (``/ui``) and a JSON API (``/api``).

Both read the same store through :class:`~receiver.web.service.DeliveryLog` and share
the access rules of :mod:`receiver.web.auth` (which also guard ``/metrics`` and ``/readyz``).
``create_app`` hands them the parts of the running daemon they use.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import Route

from receiver.config import Config
from receiver.store import Store
from receiver.web.api import api_routes
from receiver.web.auth import Guard
from receiver.web.service import DeliveryLog
from receiver.web.ui import ui_routes


def guard_for(config: Config, store: Store, clock: Callable[[], float]) -> Guard:
    """The access rules of one app (one per app: it holds the throttle and the form key)."""
    return Guard(config.web_token, store, clock, ops_need_token=config.metrics_need_token)


def routes(log: DeliveryLog, guard: Guard) -> list[Route]:
    """The ``/api`` and ``/ui`` routes (plain Routes: ``create_app`` appends them to its own list)."""
    return [*api_routes(log, guard), *ui_routes(log, guard)]
