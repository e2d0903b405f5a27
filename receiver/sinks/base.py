"""The sink interface, the common delivery options and the redaction helpers.

A sink kind registers a :class:`SinkSpec` in ``receiver.sinks.SINKS``: a pydantic
model for its entry in the config ``sinks:`` list, a model for rule action params,
and a factory. A sink sends one attempt and either returns a :class:`SendResult`
or raises :class:`~receiver.errors.DeliveryError`; retries, rate limits and the
circuit breaker belong to the dispatcher, driven by :class:`DeliveryOptions`.

Everything a sink returns (reasons, excerpts, ``describe()``) must already be
free of secrets: :func:`redact_headers`, :func:`redact_url` and :class:`Redactor`
do that work.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from receiver import __version__
from receiver.errors import DeliveryError
from receiver.secret import REDACTED, SECRET_PARAM, Secret, is_sensitive_header, redact_url
from receiver.sinks.client import HttpClient

M = TypeVar("M", bound=BaseModel)
USER_AGENT = f"hookyard/{__version__}"
EXCERPT_LIMIT = 500


@dataclass(frozen=True)
class SendContext:
    """What a sink knows about the attempt: ``event`` is the normalized envelope dict."""

    delivery_id: str
    attempt: int
    event: Mapping[str, Any]


@dataclass
class SendResult:
    """A successful attempt. ``body`` is the parsed JSON answer (used by ``emit:``) or None."""

    status: int | None
    response_excerpt: str | None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Sink(Protocol):
    id: str
    kind: str

    @property
    def action_model(self) -> type[BaseModel]:
        """The model of this sink's rule action params: the dispatcher turns the stored params
        into it once per attempt (:func:`parse_action`) and ``send`` takes that instance."""
        ...

    async def send(self, action: Any, ctx: SendContext) -> SendResult:
        """One attempt with ``action`` (an ``action_model`` instance); raises DeliveryError on failure."""
        ...

    def describe(self) -> str:
        """A privacy-safe description for logs and the UI."""
        ...


@runtime_checkable
class OrderedSink(Protocol):
    """A sink whose deliveries with the same key must not be applied out of order.

    The dispatcher refuses to let an older delivery overwrite a newer one with the
    same ``ordering_key`` (e.g. a stale ``pending`` after ``success`` on a commit).
    """

    def ordering_key(self, action: Any, ctx: SendContext) -> tuple[str, ...]: ...


class DeliveryOptions(BaseModel):
    """Options every sink entry accepts; the dispatcher reads them, sinks only use the timeout."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=8, ge=1)
    max_age_seconds: float = Field(default=86400, gt=0)
    timeout_seconds: float = Field(default=10, gt=0)
    concurrency: int = Field(default=4, ge=1)
    rate_per_second: float | None = Field(default=None, gt=0)
    burst: int = Field(default=1, ge=1)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30, ge=0)

    # Values of this entry that came from ``${VAR}`` expansion (set by the config loader): the
    # sink redacts them, and their URL parts, wherever it shows a URL or a reason.
    _secrets: tuple[str, ...] = PrivateAttr(default=())
    # Platform → its one configured source (set by the config loader): where a run this sink
    # starts is keyed, so that the run's webhooks find it (receiver/sinks/track.py).
    _runs_sources: dict[str, str] = PrivateAttr(default_factory=dict)

    def mark_secrets(self, values: Iterable[str]) -> None:
        self._secrets = tuple(values)

    def link_sources(self, platform_sources: Mapping[str, str]) -> None:
        self._runs_sources = dict(platform_sources)

    def runs_sources(self) -> Mapping[str, str]:
        return self._runs_sources

    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def __repr_args__(self) -> Any:
        # The config's repr shows each sink's options: not the values expanded from ${VAR}.
        redactor = Redactor(self._secrets)
        for name, value in super().__repr_args__():
            yield name, _redacted(value, redactor)


# Parameter position → how a value a template interpolates there is escaped.
Escapes = Mapping[tuple[str | int, ...], Callable[[str], str]]


class ActionModel(BaseModel):
    """Base of rule action params models: unknown keys are errors.

    ``template_escapes``: parameter position → how a value a template interpolates there is
    escaped (``receiver.rules.templates``), so event data cannot change the meaning of the text.
    """

    model_config = ConfigDict(extra="forbid")
    template_escapes: ClassVar[Escapes] = {}
    # Parameter positions whose templates are rendered later, against the destination's answer
    # (``track.run_id``): routing keeps their source text.
    deferred_templates: ClassVar[frozenset[tuple[str | int, ...]]] = frozenset()


@dataclass(frozen=True)
class SinkSpec:
    """How a sink kind plugs in; ``create(sink_id, config, http_client)`` builds the sink."""

    kind: str
    config: type[DeliveryOptions]
    action: type[BaseModel]
    create: Callable[[str, Any, HttpClient], Sink]
    # Optional load-time check of an action's literal params against this sink's config:
    # (sink_id, config, params) → (path under the action, problem) pairs.
    check_action: Callable[[str, Any, Mapping[str, Any]], list[tuple[tuple[str | int, ...], str]]] | None = None


class Redactor:
    """Hides known secret values: in text (a destination may echo a token back) and in URLs.

    A secret that is itself a URL (a webhook URL from ``${VAR}``) also makes its userinfo, path
    segments and query values secret: :meth:`url` masks those parts wherever they appear, so
    the host stays readable while the credential-bearing path does not.
    """

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        values = {s.reveal() if isinstance(s, Secret) else s for s in secrets}
        self._parts = frozenset(p for v in values if "://" in v for p in url_parts(v))
        # Longest first so a secret containing another is replaced whole; very short
        # values would mangle ordinary text and are not credentials anyway.
        # Parts of URLs are replaced in text only when long enough to be tokens ("notify" is not).
        texts = values | {p for p in self._parts if len(p) >= 8}
        self._values = sorted((v for v in texts if len(v) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return text

    def url(self, url: str) -> str:
        """``redact_url`` that also masks every path segment and query value that is, or holds,
        a known secret; then any secret still left in the text."""
        return self(redact_url(url, self._hides))

    def _hides(self, part: str) -> bool:
        return part in self._parts or any(v in part for v in self._values)

    def __repr__(self) -> str:
        return f"<Redactor {len(self._values)} values>"


def _redacted(value: Any, redactor: Redactor) -> Any:
    """``value`` (a config value: text, list, mapping) with known secrets hidden."""
    if isinstance(value, str):
        return redactor.url(value) if "://" in value else redactor(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redactor) for v in value]
    return value


def redact_headers(headers: Mapping[str, Any], secret_names: Iterable[str] = ()) -> dict[str, str]:
    """Headers with credential values replaced; ``secret_names`` adds names to always hide."""
    extra = {n.lower() for n in secret_names}
    out: dict[str, str] = {}
    for name, value in headers.items():
        hide = name.lower() in extra or is_sensitive_header(name) or isinstance(value, Secret)
        out[name] = REDACTED if hide else str(value)
    return out


def sink_secrets(entry: Any, expanded: Iterable[str]) -> list[str]:
    """The ``${VAR}`` expansions (``expanded``) that occur in a sink's config entry."""
    strings: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(entry)
    return sorted({e for e in expanded if e and any(e in s for s in strings)})


def url_credentials(url: str | None) -> list[str]:
    """The user and password written in a URL (decoded), if any, and the ``Basic`` token they
    are sent as (a destination may echo the Authorization header back)."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return []
    found = [unquote(p) for p in (parts.username, parts.password) if p]
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        found.append(base64.b64encode(pair.encode()).decode())
    return found


def url_parts(url: str) -> list[str]:
    """The pieces of a URL that can carry a credential: user, password, path segments and
    query values (decoded; empty ones left out)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = url_credentials(url)
    found += [unquote(s) for s in parts.path.split("/")]
    found += [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    return [p for p in found if p]


def redact_params(value: Any, key: str | int | None = None) -> Any:
    """Rendered action params as shown (UI, API, CLI): credential-named headers and query
    parameters, and credentials in URLs, hidden. The stored params keep them: they are sent."""
    if isinstance(value, dict):
        if key == "headers":
            return redact_headers(value)
        if key == "query":
            return {k: REDACTED if SECRET_PARAM.search(str(k)) else v for k, v in value.items()}
        return {k: redact_params(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_params(v, i) for i, v in enumerate(value)]
    if isinstance(value, str) and key in ("url", "path", "target_url") and ("://" in value or "?" in value):
        return redact_url(value)
    return value


def excerpt(text: str, redactor: Redactor | None = None, limit: int = EXCERPT_LIMIT) -> str:
    """A bounded, secret-free piece of a response body for the delivery log."""
    if redactor is not None:
        text = redactor(text)
    return text if len(text) <= limit else text[:limit] + "…"


def parse_action(model: type[M], params: Mapping[str, Any]) -> M:
    """Validate rendered action params; a bad render is a permanent DeliveryError.

    The message names fields and problems but never the rendered values (they may
    carry secrets).
    """
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(params)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise DeliveryError(f"invalid action params: {problems}", retryable=False) from None


def action_params(action: BaseModel) -> dict[str, Any]:
    """Validated action params as stored and shown: the keys the rule gave (under their
    written names, ``json`` not ``json_body``), as JSON. :func:`parse_action` reads them back."""
    return action.model_dump(mode="json", by_alias=True, exclude_unset=True)
