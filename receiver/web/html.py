"""How the pages are rendered: the Jinja environment and its filters, security headers,
notices after a form, safe redirects, and the static files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import Response

from receiver import jsonutil
from receiver.errors import HTTPError

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    # Everything comes from this server; no script at all.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# The run page draws its trend chart with scripts from this server (static/): no inline script, no other origin.
CHART_HEADERS = {"Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"] + "; script-src 'self'"}
# Outcomes of a form POST, shown on the page it redirects to (fixed texts: nothing is reflected).
NOTICES = {
    "retried": ("ok", "Delivery {id} is queued again with a fresh attempt budget."),
    "retried_all": ("ok", "{n} dead deliveries to {id} are queued again."),
    "replayed": ("ok", "Event replayed under the current rules: {n} new deliveries."),
    "nothing_matched": ("warn", "No rule matches this event now: nothing was queued."),
    "not_dead": ("warn", "Delivery {id} is not dead any more: nothing to retry."),
    "renormalized": ("ok", "Re-normalized from event {id} with its source's current adapter: {n} new deliveries."),
    "rerendered": ("ok", "Delivery {id} had no parameters: its action was rendered again under the rules in force "
                   "and it is queued again."),
    "cannot_render": ("warn", "Delivery {id} cannot be retried: it has no parameters and its action cannot be "
                      "rendered under the rules in force (see its last error); fix the rule, or replay the event."),
    "logged_out": ("ok", "Logged out."),
    "silenced": ("ok", "Silence {id} created: matching deliveries are held back (recorded as silenced)."),
    "unsilenced": ("ok", "Silence {id} expired: matching deliveries are sent again."),
}
# Query parameters that only carry a notice: an auto-refresh leaves them out.
NOTICE_PARAMS = ("done", "id", "n")
REFRESH_SECONDS = 15


def pretty(value: Any) -> str:
    return jsonutil.pretty(value)


def ago(iso: str, now: float) -> str:
    """``2026-02-06T12:00:00.000Z`` as "3 min ago" (or "in 2 min") relative to ``now``."""
    try:
        seconds = now - datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return iso
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            n = int(seconds // size)
            return f"in {n} {unit}" if future else f"{n} {unit} ago"
    return "just now"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = pretty
    env.filters["ago"] = ago
    return env


def safe_next(value: str | None, default: str) -> str:
    """A redirect target inside /ui only (never another site)."""
    if not value or not value.startswith("/ui") or "\\" in value or any(ord(c) < 33 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def with_query(path: str, drop: tuple[str, ...] = (), **params: str) -> str:
    """``path`` with ``params`` set in its query and ``drop`` removed (a ``#fragment`` stays at the end)."""
    path, _, fragment = path.partition("#")
    base, _, query = path.partition("?")
    gone = set(params) | set(drop)
    pairs = [(k, v) for k, values in parse_qs(query).items() if k not in gone for v in values]
    pairs += list(params.items())
    url = f"{base}?{urlencode(pairs)}" if pairs else base
    return f"{url}#{fragment}" if fragment else url


def here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def refresh_links(request: Request) -> dict[str, Any]:
    """The auto-refresh toggle of a list page (``?refresh=on``: a meta refresh, no script)."""
    page = here(request)
    on = request.query_params.get("refresh") == "on"
    return {
        "refresh_on": on,
        "refresh_seconds": REFRESH_SECONDS,
        "refresh_url": with_query(page, drop=NOTICE_PARAMS),
        "refresh_href": with_query(page, drop=(*NOTICE_PARAMS, "refresh"), **({} if on else {"refresh": "on"})),
    }


def notice(request: Request) -> dict[str, str] | None:
    done = request.query_params.get("done")
    if done not in NOTICES:
        return None
    kind, text = NOTICES[done]
    subject = request.query_params.get("id", "")
    count = request.query_params.get("n", "0")
    return {"kind": kind, "text": text.format(id=subject, n=count if count.isdigit() else "?")}


_NOSNIFF = {"X-Content-Type-Options": "nosniff"}


class Static:
    """The files of ``static/``, read once. Public so the login page is styled too; they hold no data."""

    TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}

    def __init__(self, folder: Path) -> None:
        self.files = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in self.TYPES}

    async def serve(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = self.files.get(name)
        if body is None:
            raise HTTPError(f"no static file {name}", code="not_found", status=404)
        media = self.TYPES[Path(name).suffix]
        return Response(body, media_type=media, headers={"Cache-Control": "max-age=300", **_NOSNIFF})
