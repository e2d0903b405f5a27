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

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from receiver import __version__
from receiver.errors import DeliveryError
from receiver.secret import Secret
from receiver.sinks.client import HttpClient

M = TypeVar("M", bound=BaseModel)
USER_AGENT = f"hookyard/{__version__}"
REDACTED = "<redacted>"
EXCERPT_LIMIT = 500

# Header names whose values are credentials (compared lower-case).
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|api[-_]?key|signature|password|session", re.I)
# Query parameter names whose values are credentials.
_SECRET_PARAM = re.compile(r"token|secret|key|sig|signature|password|passwd|pass|auth|code|credential", re.I)


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

    async def send(self, params: Mapping[str, Any], ctx: SendContext) -> SendResult:
        """One attempt; raises DeliveryError on failure."""
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

    def ordering_key(self, params: Mapping[str, Any], ctx: SendContext) -> tuple[str, ...]: ...


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


# Parameter position → how a value a template interpolates there is escaped.
Escapes = Mapping[tuple[str | int, ...], Callable[[str], str]]


class ActionModel(BaseModel):
    """Base of rule action params models: unknown keys are errors.

    ``template_escapes``: parameter position → how a value a template interpolates there is
    escaped (``receiver.render``), so event data cannot change the meaning of the text.
    """

    model_config = ConfigDict(extra="forbid")
    template_escapes: ClassVar[Escapes] = {}


@dataclass(frozen=True)
class SinkSpec:
    """How a sink kind plugs in; ``create(sink_id, config, http_client)`` builds the sink."""

    kind: str
    config: type[BaseModel]
    action: type[BaseModel]
    create: Callable[[str, Any, HttpClient], Sink]


class Redactor:
    """Replaces known secret values in text (a destination may echo a token back)."""

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        values = {s.reveal() if isinstance(s, Secret) else s for s in secrets}
        # Longest first so a secret containing another is replaced whole; very short
        # values would mangle ordinary text and are not credentials anyway.
        self._values = sorted((v for v in values if len(v) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"<Redactor {len(self._values)} values>"


def redact_headers(headers: Mapping[str, Any], secret_names: Iterable[str] = ()) -> dict[str, str]:
    """Headers with credential values replaced; ``secret_names`` adds names to always hide."""
    extra = {n.lower() for n in secret_names}
    out: dict[str, str] = {}
    for name, value in headers.items():
        hide = name.lower() in extra or _SECRET_HEADER.search(name) or isinstance(value, Secret)
        out[name] = REDACTED if hide else str(value)
    return out


def redact_url(url: str) -> str:
    """The URL with its password, credential-like query values and Slack hook tokens hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{hostport}" if ":" in userinfo else f"{REDACTED}@{hostport}"
    path = parts.path
    if parts.hostname == "hooks.slack.com":
        # The whole path of an incoming-webhook URL is the credential.
        path = "/services/" + REDACTED if path.startswith("/services/") else "/" + REDACTED
    query = "&".join(
        f"{quote(k, safe='')}={REDACTED if _SECRET_PARAM.search(k) else quote(v, safe='')}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(SplitResult(parts.scheme, netloc, path, query, ""))


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
