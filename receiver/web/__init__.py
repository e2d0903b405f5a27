"""The delivery log for people: a web page (``/ui``) and a JSON API (``/api``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from receiver.app import Hookyard


def routes(hy: Hookyard) -> list[Any]:
    return []
