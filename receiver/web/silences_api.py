"""``/api/silences``: list, create and expire silences (JSON).

The endpoints are rows of ``api.API`` (so they are in the OpenAPI document); these are their
handlers. Making and expiring are ``delivery/silences.py``'s, shared with the CLI and the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver import jsonutil
from receiver.delivery import silences
from receiver.errors import HTTPError
from receiver.rules.duration import parse_duration
from receiver.store import Store
from receiver.web import models
from receiver.web.openapi import Endpoint
from receiver.web.params import parse_limit, parse_time

MAX_BODY = 64 * 1024

SILENCE_API = (
    Endpoint("/api/silences", "GET", "Silences, newest first (pending, active and expired)", "silences",
             models.SilenceList),
    Endpoint("/api/silences", "POST", "Add a silence", "add_silence", models.Silence, ok_status=(201,),
             body=models.NewSilence),
    Endpoint("/api/silences/{silence_id}", "DELETE", "Expire a silence now", "expire_silence", models.Silence),
)  # fmt: skip


def silence_model(row: Any, now: float) -> models.Silence:
    return models.Silence(**silences.silence_dict(row, now))


class SilencesApi:
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.silence_store = store
        self.silence_clock = clock

    async def silences(self, request: Request) -> Response:
        rows = await self.silence_store.list_silences(parse_limit(request.query_params))
        now = self.silence_clock()
        body = models.SilenceList(silences=[silence_model(r, now) for r in rows])
        return JSONResponse(body.model_dump(mode="json"))

    async def add_silence(self, request: Request) -> Response:
        spec = await _new_silence(request)
        now = self.silence_clock()
        starts_at = silence_time(spec.starts_at, "starts_at") if spec.starts_at else now
        if (spec.duration is None) == (spec.ends_at is None):
            raise HTTPError("give either duration (30m, 2h, 7d) or ends_at", code="bad_silence")
        if spec.duration is not None:
            try:
                ends_at = starts_at + parse_duration(spec.duration)
            except ValueError as exc:
                raise HTTPError(f"duration: {exc}", code="bad_silence") from None
        else:
            ends_at = silence_time(spec.ends_at or "", "ends_at")
        by = spec.created_by or ("api" if request.headers.get("authorization") is None else "api token")
        row = silences.new_silence(
            spec.matchers, starts_at=starts_at, ends_at=ends_at, comment=spec.comment, created_by=by, now=now
        )
        await silences.add(self.silence_store, row)
        return JSONResponse(silence_model(row, now).model_dump(mode="json"), status_code=201)

    async def expire_silence(self, request: Request) -> Response:
        now = self.silence_clock()
        done = await silences.expire(self.silence_store, request.path_params["silence_id"][:100], now)
        return JSONResponse(silence_model(done.row, now).model_dump(mode="json"))


async def _new_silence(request: Request) -> models.NewSilence:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPError("the request body is too large", code="bad_silence", status=413)
    try:
        data = jsonutil.loads(body)
    except ValueError:
        raise HTTPError("the request body is not JSON", code="bad_json") from None
    try:
        return models.NewSilence.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise HTTPError(f"{where}: {first['msg']}", code="bad_silence") from None


def silence_time(value: str, name: str) -> float:
    """A silence's start or end as written in the API or the page's form; 400 ``bad_silence`` otherwise."""
    try:
        return parse_time(value)
    except (ValueError, HTTPError):  # its own error speaks of ``since``
        raise HTTPError(f"{name}: {value!r} is not a time such as 2026-03-01T22:00:00Z", code="bad_silence") from None
