"""The delivery log for people: a web page (``/ui``) and a JSON API (``/api``).

Both read the same store through :class:`~receiver.web.service.DeliveryLog` and share
the access rules of :mod:`receiver.web.auth`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

if TYPE_CHECKING:
    from receiver.app import Hookyard


def routes(hy: Hookyard) -> list[Route]:
    """The ``/api`` and ``/ui`` routes (plain Routes: ``create_app`` appends them to its own list)."""
    from receiver.web.api import api_routes
    from receiver.web.auth import Guard
    from receiver.web.service import DeliveryLog
    from receiver.web.views import ui_routes

    log = DeliveryLog(hy)
    guard = Guard(hy.config.web_token)
    from receiver.web.runs_api import runs_routes

    return [*api_routes(log, guard), *ui_routes(log, guard), *runs_routes(hy, guard)]
