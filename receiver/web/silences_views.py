"""``/ui/silences``: list, create and expire silences on the page; "silence events like this"
links here from an event with its matchers filled in (``views.silence_href``).

Forms POST with the page's CSRF token and are redirected back (303), as every other page form.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from receiver.delivery import silences
from receiver.errors import HTTPError
from receiver.rules.duration import parse_duration
from receiver.web.html import with_query
from receiver.web.service import DeliveryLog
from receiver.web.silences_api import silence_time
from receiver.web.views import Views

LISTED = 200


class SilenceViews:
    def __init__(self, views: Views, log: DeliveryLog) -> None:
        self.views = views
        self.log = log

    async def silences(self, request: Request) -> Response:
        matchers = "\n".join(request.query_params.getlist("match"))
        form = {"matchers": matchers, "duration": "2h", "comment": "", "starts": ""}
        return await self._page(request, form, None)

    async def _page(self, request: Request, form: dict[str, str], error: str | None) -> Response:
        rows = await self.log.store.list_silences(LISTED)
        now = self.log.clock()
        return self.views.page(
            request,
            "silences.html",
            400 if error else 200,
            nav="silences",
            stats=await self.views._stats(),
            silences=[silences.silence_dict(r, now) for r in rows],
            form=form,
            error=error,
        )

    async def add(self, request: Request) -> Response:
        fields = await self.views._form(request)
        form = {k: fields.get(k, "") for k in ("matchers", "duration", "comment", "starts")}
        now = self.log.clock()
        try:
            starts_at = silence_time(form["starts"], "starts") if form["starts"].strip() else now
            try:
                seconds = parse_duration(form["duration"])
            except ValueError as exc:
                raise HTTPError(f"duration: {exc}", code="bad_silence") from None
            row = silences.new_silence(
                form["matchers"].splitlines(), starts_at=starts_at, ends_at=starts_at + seconds,
                comment=form["comment"], created_by=_who(request), now=now,
            )  # fmt: skip
        except HTTPError as exc:  # shown above the form, with what was typed kept
            return await self._page(request, form, exc.message)
        await silences.add(self.log.store, row)
        return RedirectResponse(with_query("/ui/silences", done="silenced", id=row.id), status_code=303)

    async def expire(self, request: Request) -> Response:
        await self.views._form(request)
        silence_id = request.path_params["silence_id"][:100]
        await silences.expire(self.log.store, silence_id, self.log.clock())
        return RedirectResponse(with_query("/ui/silences", done="unsilenced", id=silence_id), status_code=303)


def _who(request: Request) -> str:
    return "page" if request.headers.get("authorization") is None else "page (token)"
