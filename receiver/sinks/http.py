"""The ``http`` sink: one HTTP request per attempt, its JSON answer kept for ``emit:``.

Config headers are secrets (they come from env expansion) and are only ever sent to
the ``base_url`` origin: an action's absolute ``url`` elsewhere is refused, so a
template cannot carry the credentials off to another host. Every call carries
``Idempotency-Key: <delivery id>``, stable across retries of one delivery. An action that
starts a run on a platform says where the answer names it (``track:``, see ``track.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator

from receiver.errors import DeliveryError
from receiver.secret import Secret
from receiver.sinks import outbound
from receiver.sinks.base import (
    ActionModel,
    DeliveryOptions,
    Escapes,
    Redactor,
    SendContext,
    SendResult,
    SinkSpec,
    url_credentials,
)
from receiver.sinks.client import HttpClient
from receiver.sinks.track import StartedRun, TrackFailed, TrackSpec, rendered_run_id

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


class HttpConfig(DeliveryOptions):
    base_url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Query parameters sent with every request (an API that takes its key as ?api_key=…):
    # secrets like headers, so rules need not carry them (rule params are stored and shown).
    query: dict[str, str] = Field(default_factory=dict)
    allow_private: bool = False

    @model_validator(mode="after")
    def _check_base(self) -> HttpConfig:
        if self.base_url is not None:
            url = httpx.URL(self.base_url)
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError("base_url must be an absolute http(s) URL")
            if url.userinfo and any(name.lower() == "authorization" for name in self.headers):
                raise ValueError(
                    "base_url: has credentials (user:password@) and headers has an Authorization header; keep one"
                )
        return self


class RequestSpec(ActionModel):
    """One rendered request: ``path`` (joined to the sink's base_url) or an absolute ``url``."""

    method: Method = "POST"
    path: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")

    @model_validator(mode="after")
    def _one_target(self) -> RequestSpec:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of path or url")
        return self


# Each value a template puts into ``request.path`` is one segment (outbound.segment).
REQUEST_ESCAPES: Escapes = {("request", "path"): outbound.segment}


class HttpAction(ActionModel):
    template_escapes = REQUEST_ESCAPES
    deferred_templates = frozenset({("track", "run_id")})  # rendered against the answer

    request: RequestSpec
    track: TrackSpec | None = None


class HttpSink:
    """Sends ``request:`` actions; presets subclass it and add auth and shortcuts."""

    kind = "http"

    def __init__(
        self,
        sink_id: str,
        client: HttpClient,
        *,
        base_url: str | None,
        headers: Mapping[str, Secret],
        allow_private: bool,
        timeout: float,
        secrets: Iterable[Secret | str] = (),
        query: Mapping[str, Secret] | None = None,
        runs_sources: Mapping[str, str] | None = None,
    ) -> None:
        self.id = sink_id
        self.runs_sources = dict(runs_sources or {})  # platform → its one source (track.py)
        self._client = client
        self.base_url = base_url
        self._headers = dict(headers)
        self._query = dict(query or {})
        self.allow_private = allow_private
        self.timeout = timeout
        # Header values, credentials in base_url, and whatever the config expanded from ${VAR}.
        self._redactor = Redactor(
            [*self._headers.values(), *self._query.values(), *url_credentials(base_url), *secrets]
        )

    action_model: type[ActionModel] = HttpAction

    def outgoing(self, action: Any, ctx: SendContext) -> outbound.Outgoing:
        """The request for validated action params; presets override this for their shortcuts."""
        return self.from_spec(action.request)

    def from_spec(self, spec: RequestSpec) -> outbound.Outgoing:
        if spec.url is not None:
            if self.base_url is not None and not outbound.same_origin(spec.url, self.base_url):
                raise DeliveryError(
                    f"refused url {self._redactor.url(spec.url)}: not on the sink's base_url origin", retryable=False
                )
            url = spec.url
        else:
            if self.base_url is None:
                raise DeliveryError("request.path needs a sink base_url; give request.url", retryable=False)
            url = outbound.join(self.base_url, spec.path or "")
        auth = {name: value.reveal() for name, value in self._headers.items()}
        return outbound.Outgoing(
            method=spec.method,
            url=url,
            headers=outbound.merge_headers(spec.headers, auth),
            params={**spec.query, **{name: value.reveal() for name, value in self._query.items()}},
            json=spec.json_body,
        )

    async def send(self, action: Any, ctx: SendContext) -> SendResult:
        out = self.outgoing(action, ctx)
        resp = await outbound.call(
            self._client,
            out,
            timeout=self.timeout,
            allow_private=self.allow_private,
            redactor=self._redactor,
            idempotency_key=ctx.delivery_id,
        )
        return outbound.judge(resp, self._redactor)

    async def get(self, path: str, params: Mapping[str, str]) -> SendResult:
        """``GET path`` on the base URL with the sink's auth, guard and timeout (pollers read runs with it)."""
        out = self.from_spec(RequestSpec(method="GET", path=path, query=dict(params)))
        resp = await outbound.call(
            self._client, out, timeout=self.timeout, allow_private=self.allow_private, redactor=self._redactor
        )
        return outbound.judge(resp, self._redactor)

    def started_run(self, action: Any, body: Any, event: Mapping[str, Any]) -> StartedRun | None:
        """The run this successful call of ``action`` started (its ``track:``), None when it starts
        none. Raises TrackFailed when the answer names no run."""
        track = getattr(action, "track", None)
        if track is None:
            return None
        run_id = self.no_secret(rendered_run_id(track, body, event))
        return StartedRun(self.runs_sources.get(track.platform, self.id), track.platform, run_id)

    def no_secret(self, run_id: str) -> str:
        """A run id is stored and shown: one that holds a credential of this sink is refused."""
        if self._redactor(run_id) != run_id:
            raise TrackFailed("the answer's run id holds one of the sink's secrets")
        return run_id

    def describe(self) -> str:
        where = self._redactor.url(self.base_url) if self.base_url else "any URL"
        names = ", ".join(sorted(self._headers)) or "none"
        query = f", secret query parameters: {', '.join(sorted(self._query))}" if self._query else ""
        return f"{self.kind} → {where} (secret headers: {names}{query})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r} {self.describe()}>"


def create(sink_id: str, config: HttpConfig, client: HttpClient) -> HttpSink:
    return HttpSink(
        sink_id,
        client,
        base_url=config.base_url,
        headers={name: Secret(value) for name, value in config.headers.items()},
        allow_private=config.allow_private,
        timeout=config.timeout_seconds,
        secrets=config.secrets(),
        query={name: Secret(value) for name, value in config.query.items()},
        runs_sources=config.runs_sources(),
    )


SPEC = SinkSpec(kind="http", config=HttpConfig, action=HttpAction, create=create)
