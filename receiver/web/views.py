"""The delivery log as server-rendered pages (``/ui``): events, one event, dead letters.

Buttons are plain HTML forms that POST to ``/ui/...`` and are redirected back (303),
so the page needs no JavaScript. Templates are Jinja2 with autoescaping on.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from receiver.errors import HTTPError
from receiver.web.auth import COOKIE, CSRF_FIELD, Endpoint, Guard, same_origin
from receiver.web.present import delivery_dict, event_dict, event_summary
from receiver.web.service import STATES, DeliveryLog, parse_delivery_query, parse_event_filter

HERE = Path(__file__).parent
MAX_FORM_BYTES = 16 * 1024
COOKIE_MAX_AGE = 7 * 24 * 3600
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
# Outcomes of a form POST, shown on the page it redirects to (fixed texts: nothing is reflected).
NOTICES = {
    "retried": ("ok", "Delivery {id} is queued again with a fresh attempt budget."),
    "replayed": ("ok", "Event replayed under the current rules: {n} new deliveries."),
    "renormalized": ("ok", "Re-normalized from event {id} with its source's current adapter: {n} new deliveries."),
    "nothing_matched": ("warn", "No rule matches this event now: nothing was queued."),
    "not_dead": ("warn", "Delivery {id} is not dead any more: nothing to retry."),
    "rerendered": ("ok", "Delivery {id} had no parameters: its action was rendered again under the rules in force "
                   "and it is queued again."),
    "cannot_render": ("warn", "Delivery {id} cannot be retried: it has no parameters and its action cannot be "
                      "rendered under the rules in force (see its last error); fix the rule, or replay the event."),
    "logged_out": ("ok", "Logged out."),
}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = _pretty
    return env


def safe_next(value: str | None, default: str) -> str:
    """A redirect target inside /ui only (never another site)."""
    if not value or not value.startswith("/ui") or "\\" in value or any(ord(c) < 33 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def with_query(path: str, **params: str) -> str:
    """``path`` with ``params`` set in its query (a ``#fragment`` stays at the end)."""
    path, _, fragment = path.partition("#")
    base, _, query = path.partition("?")
    pairs = [(k, v) for k, values in parse_qs(query).items() if k not in params for v in values]
    pairs += list(params.items())
    url = f"{base}?{urlencode(pairs)}" if pairs else base
    return f"{url}#{fragment}" if fragment else url


class Views:
    def __init__(self, log: DeliveryLog, guard: Guard) -> None:
        self.log = log
        self.guard = guard
        self.env = environment()

    # -- rendering ---------------------------------------------------------------------------
    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("nav", "")
        context.setdefault("stats", None)
        html = self.env.get_template(name).render(
            csrf=self.guard.csrf_token(),
            csrf_field=CSRF_FIELD,
            token_required=self.guard.token_required,
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            notice=self._notice(request),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def deny(self, request: Request, status: int, code: str, message: str) -> Response:
        if status == 401:
            return self._login_page(request, status=401, error=None)
        return self.page(request, "error.html", status, status_code=status, code=code, message=message)

    @staticmethod
    def _notice(request: Request) -> dict[str, str] | None:
        done = request.query_params.get("done")
        if done not in NOTICES:
            return None
        kind, text = NOTICES[done]
        subject = request.query_params.get("id", "")
        count = request.query_params.get("n", "0")
        return {"kind": kind, "text": text.format(id=subject, n=count if count.isdigit() else "?")}

    async def _stats(self) -> dict[str, Any]:
        return await self.log.stats()

    # -- pages -------------------------------------------------------------------------------
    async def events(self, request: Request) -> Response:
        params = request.query_params
        page = await self.log.events(parse_event_filter(params))
        form = {k: params.get(k, "") for k in ("source", "type", "q", "since", "limit")}
        kept = {k: v for k, v in form.items() if v}
        older = f"/ui?{urlencode({**kept, 'before': page.next_before})}" if page.next_before else None
        newest = f"/ui?{urlencode(kept)}" if params.get("before") else None
        config = self.log.hy.config
        return self.page(
            request,
            "events.html",
            nav="events",
            stats=await self._stats(),
            events=[event_summary(e) for e in page.events],
            scanned=page.scanned,
            searching=bool(form["q"]),
            form=form,
            sources=sorted(set(config.sources) | set(config.sinks)),
            older=older,
            newest=newest,
        )

    async def event(self, request: Request) -> Response:
        d = await self.log.event(request.path_params["event_id"])
        return self.page(
            request,
            "event.html",
            nav="events",
            stats=await self._stats(),
            event=event_dict(d.event),
            deliveries=[delivery_dict(x.row, x.attempts) for x in d.deliveries],
            more_deliveries=d.more_deliveries,
            parent=event_summary(d.parent) if d.parent else None,
            root=event_summary(d.root) if d.root else None,
            children=[event_summary(c) for c in d.children],
        )

    async def deliveries(self, request: Request) -> Response:
        query = parse_delivery_query(request.query_params)
        found = await self.log.deliveries(query)
        return self.page(
            request,
            "deliveries.html",
            nav="dead" if query.state == "dead" else "deliveries",
            stats=await self._stats(),
            deliveries=[delivery_dict(d.row, d.attempts) for d in found],
            state=query.state,
            states=STATES,
            limit=query.limit,
            more=f"/ui/deliveries?{urlencode({'state': query.state or '', 'limit': min(query.limit * 2, 500)})}"
            if len(found) == query.limit and query.limit < 500
            else None,
        )

    # -- actions (forms) ---------------------------------------------------------------------
    async def _form(self, request: Request, purpose: str = "ui") -> dict[str, str]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        # No content type at all is an empty form: it fails the CSRF check below like any other.
        if content_type not in ("application/x-www-form-urlencoded", ""):
            raise HTTPError("expected a form (application/x-www-form-urlencoded)", code="bad_form", status=415)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise HTTPError("form is too large", code="bad_form", status=413)
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not self.guard.csrf_ok(fields.get(CSRF_FIELD), purpose):
            raise HTTPError("this form has expired; reload the page and try again", code="csrf", status=403)
        return fields

    async def retry(self, request: Request) -> Response:
        fields = await self._form(request)
        delivery_id = request.path_params["delivery_id"]
        back = safe_next(fields.get("next"), "/ui/deliveries?state=dead")
        try:
            _, result = await self.log.retry(delivery_id)
        except HTTPError as exc:
            if exc.code not in ("not_dead", "cannot_render"):
                raise
            return RedirectResponse(with_query(back, done=exc.code, id=delivery_id), status_code=303)
        done = "rerendered" if result.rerendered else "retried"
        return RedirectResponse(with_query(back, done=done, id=delivery_id), status_code=303)

    async def replay(self, request: Request) -> Response:
        fields = await self._form(request)
        event_id = request.path_params["event_id"]
        back = safe_next(fields.get("next"), f"/ui/events/{event_id}")
        if fields.get("renormalize") == "1":
            new = await self.log.renormalize(event_id)
            page = with_query(f"/ui/events/{new.event_id}", done="renormalized", id=event_id)
            return RedirectResponse(with_query(page, n=str(len(new.plan.deliveries))), status_code=303)
        plan = await self.log.replay(event_id)
        done = {"done": "replayed", "n": str(len(plan.deliveries))} if plan.deliveries else {"done": "nothing_matched"}
        return RedirectResponse(with_query(back, **done), status_code=303)

    # -- login -------------------------------------------------------------------------------
    def _login_page(self, request: Request, status: int, error: str | None) -> HTMLResponse:
        return self.page(
            request,
            "login.html",
            status,
            login_csrf=self.guard.csrf_token("login"),
            next=safe_next(request.query_params.get("next") or request.url.path, "/ui"),
            error=error,
        )

    async def login_form(self, request: Request) -> Response:
        if not self.guard.token_required:
            return RedirectResponse("/ui", status_code=303)
        return self._login_page(request, 200, None)

    async def login(self, request: Request) -> Response:
        if not self.guard.token_required:
            return RedirectResponse("/ui", status_code=303)
        if not same_origin(request):
            raise HTTPError("the request comes from another origin", code="cross_origin", status=403)
        fields = await self._form(request, purpose="login")
        if not self.guard.token_matches(fields.get("token", "")):
            return self._login_page(request, 401, "That token is not right.")
        response = RedirectResponse(safe_next(fields.get("next"), "/ui"), status_code=303)
        response.set_cookie(
            COOKIE,
            self.guard.cookie_value,
            max_age=COOKIE_MAX_AGE,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        response = RedirectResponse("/ui/login?done=logged_out", status_code=303)
        response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
        return response


def html_errors(views: Views, endpoint: Endpoint) -> Endpoint:
    """Client mistakes on a page become a short HTML page with the right status, not JSON."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except HTTPError as exc:
            return views.page(
                request, "error.html", exc.status, status_code=exc.status, code=exc.code, message=exc.message
            )

    return wrapped


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


_NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def ui_routes(log: DeliveryLog, guard: Guard) -> list[Route]:
    views = Views(log, guard)

    def route(path: str, endpoint: Endpoint, method: str) -> Route:
        return Route(path, guard.protect(html_errors(views, endpoint), views.deny, ui=True), methods=[method])

    login_guard = (lambda e: e) if guard.token_required else (lambda e: guard.protect(e, views.deny, ui=True))
    return [
        route("/ui", views.events, "GET"),
        route("/ui/events/{event_id}", views.event, "GET"),
        route("/ui/events/{event_id}/replay", views.replay, "POST"),
        route("/ui/deliveries", views.deliveries, "GET"),
        route("/ui/deliveries/{delivery_id}/retry", views.retry, "POST"),
        # With a token, the login form must be reachable without one; without, it only redirects.
        Route("/ui/login", login_guard(html_errors(views, views.login_form)), methods=["GET"]),
        Route("/ui/login", login_guard(html_errors(views, views.login)), methods=["POST"]),
        route("/ui/logout", views.logout, "POST"),
        Route("/ui/static/{name}", Static(HERE / "static").serve, methods=["GET"]),
    ]
