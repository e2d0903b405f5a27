"""The delivery log as server-rendered pages (``/ui``): events, one event, one delivery,
deliveries and dead letters, the replay confirmation.

Buttons are plain HTML forms that POST to ``/ui/...`` and are redirected back (303),
so the page needs no JavaScript. Templates are Jinja2 with autoescaping on.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from receiver.errors import HTTPError
from receiver.rules.matchers import suggest
from receiver.sources.fields import OUTCOMES
from receiver.web.auth import COOKIE, CSRF_FIELD, SESSION_SECONDS, Endpoint, Guard, Refusal, same_origin
from receiver.web.html import (
    SECURITY_HEADERS,
    environment,
    here,
    notice,
    refresh_links,
    safe_next,
    with_query,
)
from receiver.web.params import DELIVERY_FILTERS, EVENT_FILTER_FIELDS, STATES, event_filter_fields, parse_delivery_query
from receiver.web.present import delivery_dict, event_dict, event_summary, plan_model
from receiver.web.service import DeliveryLog


def silence_href(envelope: dict[str, Any]) -> str:
    """The silence form with matchers for an event's identifying fields filled in ("silence events like this")."""
    return "/ui/silences?" + urlencode([("match", m) for m in suggest(envelope)]) + "#new"

MAX_FORM_BYTES = 16 * 1024


class Views:
    def __init__(self, log: DeliveryLog, guard: Guard) -> None:
        self.log = log
        self.guard = guard
        self.env = environment()

    # -- rendering ---------------------------------------------------------------------------
    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("nav", "")
        context.setdefault("stats", None)
        context.setdefault("refresh_on", False)
        html = self.env.get_template(name).render(
            csrf=self.guard.csrf_token(request),
            csrf_field=CSRF_FIELD,
            token_required=self.guard.token_required,
            here=here(request),
            notice=notice(request),
            now=self.log.clock(),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def deny(self, request: Request, status: int, code: str, message: str) -> Response:
        if status == 401:
            return self._login_page(request, status=401, error=None)
        return self.page(request, "error.html", status, status_code=status, code=code, message=message)

    async def _stats(self) -> dict[str, Any]:
        return await self.log.stats()

    # -- pages -------------------------------------------------------------------------------
    async def events(self, request: Request) -> Response:
        params = request.query_params
        f, errors = event_filter_fields(params)
        page = await self.log.events(f)
        form = {k: params.get(k, "") for k in EVENT_FILTER_FIELDS if k != "before"}
        kept = {k: v for k, v in form.items() if v and k not in errors}
        if params.get("refresh") == "on":
            kept["refresh"] = "on"
        older = f"/ui?{urlencode({**kept, 'before': page.next_before})}" if page.next_before else None
        newest = f"/ui?{urlencode(kept)}" if params.get("before") else None
        config = self.log.config()
        ruleset = self.log.router.ruleset
        return self.page(
            request,
            "events.html",
            400 if errors else 200,
            nav="events",
            stats=await self._stats(),
            events=[event_summary(e, page.delivery_states.get(e.id, {})) for e in page.events],
            scanned=page.scanned,
            searching=bool(f.text),
            form=form,
            errors={k: e.message for k, e in errors.items()},
            filtered=any(form.values()),
            sources=sorted(set(config.sources) | set(config.sinks)),
            sinks=sorted(config.sinks),
            rules=sorted(r.name for r in getattr(ruleset, "rules", ())),
            delivery_filters=DELIVERY_FILTERS,
            outcomes=OUTCOMES,
            older=older,
            newest=newest,
            **refresh_links(request),
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
            silence_href=silence_href(d.event.envelope),
        )

    async def delivery(self, request: Request) -> Response:
        d = await self.log.delivery(request.path_params["delivery_id"])
        return self.page(
            request, "delivery.html", nav="deliveries", stats=await self._stats(),
            d=delivery_dict(d.row, d.attempts, d.group, d.members),
        )  # fmt: skip

    async def deliveries(self, request: Request) -> Response:
        query = parse_delivery_query(request.query_params)
        found = await self.log.deliveries(query)
        more = None
        if len(found) == query.limit and query.limit < 500:
            more = with_query(here(request), limit=str(min(query.limit * 2, 500)))
        return self.page(
            request,
            "deliveries.html",
            nav="dead" if query.state == "dead" else "deliveries",
            stats=await self._stats(),
            deliveries=[delivery_dict(d.row, d.attempts) for d in found],
            state=query.state,
            states=STATES,
            limit=query.limit,
            more=more,
            **refresh_links(request),
        )

    async def replay_confirm(self, request: Request) -> Response:
        """The step before a replay: what it would queue now, and the button that does it."""
        row, plan = await self.log.replay_preview(request.path_params["event_id"])
        return self.page(
            request, "replay.html", nav="events", event=event_summary(row), plan=plan_model(row.id, plan).model_dump()
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
        if not self.guard.csrf_ok(request, fields.get(CSRF_FIELD), purpose):
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

    async def retry_dead(self, request: Request) -> Response:
        fields = await self._form(request)
        sink_id = request.path_params["sink_id"]
        n = await self.log.retry_dead(sink_id)
        back = safe_next(fields.get("next"), "/ui/deliveries?state=dead")
        return RedirectResponse(with_query(back, done="retried_all", id=sink_id, n=str(n)), status_code=303)

    async def replay(self, request: Request) -> Response:
        fields = await self._form(request)
        event_id = request.path_params["event_id"]
        back = safe_next(fields.get("next"), f"/ui/events/{event_id}")
        if fields.get("renormalize") == "1":
            new = await self.log.renormalize(event_id)
            page = with_query(f"/ui/events/{new.event_id}", done="renormalized", id=event_id)
            return RedirectResponse(with_query(page, n=str(len(new.plan.deliveries))), status_code=303)
        plan = await self.log.replay(event_id)
        if not plan.deliveries:
            return RedirectResponse(with_query(back, done="nothing_matched"), status_code=303)
        return RedirectResponse(with_query(back, done="replayed", n=str(len(plan.deliveries))), status_code=303)

    # -- login -------------------------------------------------------------------------------
    def _login_page(self, request: Request, status: int, error: str | None) -> HTMLResponse:
        return self.page(
            request,
            "login.html",
            status,
            login_csrf=self.guard.csrf_token(request, "login"),
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
        verdict = self.guard.check_token(request, fields.get("token", ""))
        if isinstance(verdict, Refusal):
            return verdict.respond(request, self.deny)
        if not verdict:
            return self._login_page(request, 401, "That token is not right.")
        response = RedirectResponse(safe_next(fields.get("next"), "/ui"), status_code=303)
        # A fresh random id per login: it expires, and logging out ends it in every process.
        response.set_cookie(
            COOKIE,
            await self.guard.start_session(),
            max_age=SESSION_SECONDS,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        await self.guard.end_session(request)
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
