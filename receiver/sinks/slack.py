"""Slack incoming webhooks, posted directly so a 429's ``Retry-After`` is honoured.

Apprise's Slack plugin turns a 429 into a plain failure and never reads
``Retry-After`` (protocols.md §3, §6.9); Slack may disable an app that keeps
sending while limited. So the ``apprise`` sink sends Slack *webhook* URLs here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from apprise.plugins.slack import NotifySlack

from receiver.errors import DeliveryError
from receiver.sinks.answers import classify, parse_retry_after
from receiver.sinks.base import USER_AGENT, Redactor, excerpt
from receiver.sinks.client import HttpClient, Timeout, TransportError

TEXT_LIMIT = 4000  # Slack cuts at 40,000; past a few thousand a chat message is unreadable anyway
DEFAULT_BASE = "https://hooks.slack.com/services"


@dataclass(frozen=True)
class SlackHook:
    """The three webhook tokens (the credential) and the channel named in the URL, if any."""

    token_a: str
    token_b: str
    token_c: str
    channel: str | None = None

    def url(self, base: str = DEFAULT_BASE) -> str:
        return f"{base.rstrip('/')}/{self.token_a}/{self.token_b}/{self.token_c}"

    def __repr__(self) -> str:
        return "<SlackHook>"


def hook_of(service: object) -> SlackHook | None:
    """The webhook behind a parsed Apprise service, or None if it is not a Slack webhook."""
    if not isinstance(service, NotifySlack) or service.mode != "hook":
        return None
    tokens = (service.token_a, service.token_b, service.token_c)
    if not all(tokens):
        return None
    channels = list(getattr(service, "channels", []) or [])
    a, b, c = (str(t) for t in tokens)
    return SlackHook(a, b, c, channels[0] if channels else None)


def escape(text: str) -> str:
    """Text Slack shows as written: ``<!channel>`` or ``<url|label>`` in a value stays inert.

    Slack's mrkdwn reads ``<…>`` as mentions and links and needs exactly ``&``, ``<`` and
    ``>`` escaped (Slack's "formatting text" rules); rule templates apply this to the values they interpolate
    into an ``apprise`` action's title and body, never to the rule's own text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The inverse of :func:`escape`, for the same text sent anywhere but Slack."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message(title: str | None, body: str) -> str:
    text = f"*{title}*\n{body}" if title else body
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


async def post(
    client: HttpClient,
    hook: SlackHook,
    text: str,
    *,
    base: str,
    timeout: float,
    where: str,
    clock: Callable[[], float] = time.time,
) -> int:
    """Post one message; returns the status on success, raises DeliveryError otherwise.

    ``where`` is the privacy form of the URL, used in reasons.
    """
    redactor = Redactor([hook.token_a, hook.token_b, hook.token_c])
    payload: dict[str, str] = {"text": text}
    if hook.channel:
        payload["channel"] = hook.channel  # legacy hooks honour it, app hooks ignore it
    try:
        resp = await client.request(
            "POST", hook.url(base), json=payload, headers={"User-Agent": USER_AGENT}, timeout=timeout
        )
    except Timeout as exc:
        raise DeliveryError(f"slack {where}: timed out after {timeout:g}s", retryable=True) from exc
    except TransportError as exc:
        raise DeliveryError(f"slack {where}: {str(exc).split(':')[0]}", retryable=True) from exc
    code = " ".join(resp.text.split())[:100] if resp.content else ""
    if resp.status_code == 200 and code == "ok":
        return 200
    raise DeliveryError(
        f"slack {where}: HTTP {resp.status_code}" + (f" {redactor(code)}" if code else ""),
        retryable=classify(resp.status_code),  # a 200 that is not `ok` is not Slack: permanent
        status=resp.status_code,
        retry_after=parse_retry_after(resp.headers.get("retry-after"), clock()),
        response_excerpt=excerpt(resp.text, redactor) if resp.content else None,
    )
