"""The ``apprise`` sink: chat and email through Apprise 2.x, Slack webhooks directly.

Each configured URL is parsed once at start-up. A send picks the URLs matching the
action's ``tag`` (Apprise semantics: no tag means all; ``always`` always matches),
posts Slack webhooks itself (see :mod:`receiver.sinks.slack`) and hands the rest to
``Apprise.async_notify``. The per-service ``AppriseResult`` decides the outcome; the
last warning/error Apprise logged for a failed service becomes the reason.

URLs are only ever shown in Apprise's privacy form, itself redacted (token-like path
segments and query values of a configured URL are credentials: generic webhook paths
usually are). One attempt notifies every selected URL, so a retry after a partial failure
repeats the ones that worked: give each destination its own sink when duplicates matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import apprise
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from receiver.errors import DeliveryError
from receiver.sinks import slack
from receiver.sinks.answers import classify, repeats
from receiver.sinks.base import (
    ActionModel,
    DeliveryOptions,
    Escapes,
    Redactor,
    SendContext,
    SendResult,
    SinkSpec,
    url_credentials,
    url_parts,
)
from receiver.sinks.client import HttpClient

_HTTP_ERROR = re.compile(r"error=(\d{3})\b")
_FORMATS = {"text": apprise.NotifyFormat.TEXT, "markdown": apprise.NotifyFormat.MARKDOWN}
_FORMATS["html"] = apprise.NotifyFormat.HTML


class UrlEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    tag: list[str] = Field(default_factory=list)

    @field_validator("tag", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [t.strip() for t in value.split(",") if t.strip()] if isinstance(value, str) else value


class AppriseConfig(DeliveryOptions):
    urls: list[str | UrlEntry] = Field(min_length=1)
    # Where Slack webhook URLs are posted; tests point it at a local server.
    slack_base_url: str = slack.DEFAULT_BASE

    @field_validator("urls")
    @classmethod
    def _parseable(cls, urls: list[str | UrlEntry]) -> list[str | UrlEntry]:
        for i, entry in enumerate(urls):
            url = entry.url if isinstance(entry, UrlEntry) else entry
            if apprise.Apprise.instantiate(url) is None:
                scheme = url.split("://", 1)[0] if "://" in url else "?"
                # Never echo the URL itself: it usually carries a credential.
                raise ValueError(f"urls[{i}]: not a recognised Apprise URL (scheme {scheme!r})")
        return urls

    @model_validator(mode="after")
    def _slack_rate(self) -> AppriseConfig:
        # Slack allows about one message per second per webhook.
        if self.rate_per_second is None and any(t.hook for t in targets(self)):
            self.rate_per_second = 1.0
        return self


class AppriseAction(ActionModel):
    # Values interpolated into the text are escaped for Slack at render time (stored so);
    # every other service gets them back as they were (slack.unescape).
    template_escapes: ClassVar[Escapes] = {("title",): slack.escape, ("body",): slack.escape}

    body: str
    title: str = ""
    tag: str | list[str] | None = None
    format: Literal["text", "markdown", "html"] = "text"


@dataclass(frozen=True)
class Target:
    """One configured URL: its parsed service, privacy form, tags and Slack hook (if any)."""

    service: Any
    privacy: str
    tags: frozenset[str]
    hook: slack.SlackHook | None
    secrets: tuple[str, ...]

    def __repr__(self) -> str:
        return f"<Target {self.privacy}>"


def _secret_parts(url: str) -> tuple[str, ...]:
    """The pieces of a configured URL that may be credentials: its user and password, and path
    segments and query values long enough to be tokens (``/notify`` stays readable)."""
    credentials = url_credentials(url)
    return tuple(p for p in url_parts(url) if len(p) >= 8 or p in credentials)


def targets(config: AppriseConfig) -> list[Target]:
    out: list[Target] = []
    for entry in config.urls:
        url, tags = (entry.url, entry.tag) if isinstance(entry, UrlEntry) else (entry, [])
        service = apprise.Apprise.instantiate(url, tag=tags or None)
        assert service is not None  # checked by the config model
        secrets = _secret_parts(url)
        privacy = Redactor([*secrets, *config.secrets()]).url(service.url(privacy=True).split("?", 1)[0])
        out.append(Target(service, privacy, frozenset(tags), slack.hook_of(service), secrets))
    return out


def matches(target: Target, tag: str | list[str] | None) -> bool:
    return tags_match(target.tags, tag)


def tags_match(tags: frozenset[str], tag: str | list[str] | None) -> bool:
    """Apprise tag semantics: none/``all`` match everything, a list is OR, ``always`` always matches."""
    if tag is None:
        return True
    wanted = {tag} if isinstance(tag, str) else set(tag)
    return "all" in wanted or "always" in tags or bool(wanted & tags)


def check_action(
    sink_id: str, config: AppriseConfig, params: Mapping[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """At load: a literal ``tag`` that no URL of the sink carries would fail every delivery."""
    tag = params.get("tag")
    if not (isinstance(tag, str) or (isinstance(tag, list) and all(isinstance(t, str) for t in tag))):
        return []  # absent, or a value the params model reports
    tag_sets = [frozenset(e.tag) if isinstance(e, UrlEntry) else frozenset() for e in config.urls]
    if any(tags_match(tags, tag) for tags in tag_sets):
        return []
    known = sorted(set().union(*tag_sets))
    have = f"its URLs' tags: {', '.join(known)}" if known else "its URLs have no tags"
    return [(("tag",), f"no URL of sink {sink_id!r} has tag {tag!r} ({have}); every delivery would fail")]


@dataclass
class _Failure:
    reason: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None


class AppriseSink:
    kind = "apprise"
    action_model = AppriseAction

    def __init__(self, sink_id: str, client: HttpClient, config: AppriseConfig) -> None:
        self.id = sink_id
        self._client = client
        self._targets = targets(config)
        self._slack_base = config.slack_base_url
        self.timeout = config.timeout_seconds
        self._redactor = Redactor([*(s for t in self._targets for s in t.secrets), *config.secrets()])

    async def send(self, action: AppriseAction, ctx: SendContext) -> SendResult:
        chosen = [t for t in self._targets if matches(t, action.tag)]
        if not chosen:
            raise DeliveryError(f"no URL of sink {self.id!r} has tag {action.tag!r}", retryable=False)
        failures: list[_Failure] = []
        hooks = [t for t in chosen if t.hook is not None]
        for t in hooks:
            assert t.hook is not None
            try:
                await slack.post(
                    self._client,
                    t.hook,
                    slack.message(action.title, action.body),
                    base=self._slack_base,
                    timeout=self.timeout,
                    where=t.privacy,
                )
            except DeliveryError as exc:
                failures.append(_Failure(exc.reason, exc.retryable, exc.status, exc.retry_after))
        others = [t for t in chosen if t.hook is None]
        if others:
            failures += await self._notify(others, action)
        if failures:
            raise _combine(failures, len(chosen))
        return SendResult(status=None, response_excerpt=f"notified {len(chosen)} service(s)")

    async def _notify(self, chosen: list[Target], action: AppriseAction) -> list[_Failure]:
        apobj = apprise.Apprise()
        for t in chosen:
            apobj.add(t.service)
        result = await apobj.async_notify(
            body=slack.unescape(action.body),
            title=slack.unescape(action.title),
            body_format=_FORMATS[action.format],
            timeout=self.timeout,
        )
        with result:
            if result.status == apprise.AppriseResultStatus.SUCCESS:
                return []
            failed = [s for s in result if not s]
            if not failed:  # NOMATCH or a failure before dispatch
                return [_Failure(f"apprise: {result.status.name.lower()}", retryable=False)]
            return [self._failure(s) for s in failed]

    def _failure(self, service: Any) -> _Failure:
        logs = [e for e in service.logs() if e.level in ("WARNING", "ERROR")]
        detail = self._redactor(" ".join(logs[-1].message.split())) if logs else "no reason logged"
        where = self._redactor.url(service.url.split("?", 1)[0])
        reason = f"{service.name} {where}: {service.status.name.lower()}: {detail}"
        found = _HTTP_ERROR.search(detail)
        status = int(found.group(1)) if found else None
        # Without an HTTP status (connection refused, SMTP error, timeout) another try may work,
        # unless the message itself was refused (an empty body fails every time).
        retryable = classify(status) if status is not None else not repeats(detail)
        return _Failure(reason[:500], retryable, status)

    def describe(self) -> str:
        return "apprise → " + ", ".join(t.privacy for t in self._targets)

    def __repr__(self) -> str:
        return f"<AppriseSink {self.id!r} {self.describe()}>"


def _combine(failures: list[_Failure], total: int) -> DeliveryError:
    reason = "; ".join(f.reason for f in failures)
    if len(failures) < total:
        reason = f"{len(failures)} of {total} services failed: {reason}"
    hints = [f.retry_after for f in failures if f.retry_after is not None]
    return DeliveryError(
        reason,
        retryable=any(f.retryable for f in failures),
        status=failures[0].status if len(failures) == 1 else None,
        retry_after=max(hints) if hints else None,
    )


def create(sink_id: str, config: AppriseConfig, client: HttpClient) -> AppriseSink:
    return AppriseSink(sink_id, client, config)


SPEC = SinkSpec(kind="apprise", config=AppriseConfig, action=AppriseAction, create=create, check_action=check_action)
