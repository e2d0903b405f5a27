"""One guarded HTTP call and the mapping of its outcome to SendResult / DeliveryError.

Shared by the ``http`` sink, the platform presets and ``github_status``: they differ
in how they build the request, not in how it is sent or judged.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from receiver import jsonutil
from receiver.errors import DeliveryError
from receiver.secret import redact_url
from receiver.sinks import netguard
from receiver.sinks.answers import classify, is_success, parse_retry_after
from receiver.sinks.base import USER_AGENT, Redactor, SendResult, excerpt, redact_headers
from receiver.sinks.client import HttpClient, Response, Timeout, TransportError


@dataclass
class Outgoing:
    """A fully built request. Header values may be secrets; never log this object's fields."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None  # None: no body

    def __repr__(self) -> str:
        return f"<Outgoing {self.method} {redact_url(self.url)}>"


def segment(value: object) -> str:
    """``value`` as one URL path segment or query value: every character that could end it or
    start another part (``/``, ``?``, ``#``, ``&``, ``=``, ``%``) is percent-encoded, and a value
    of dots only is encoded too, so it can neither climb (``..``) nor address another endpoint."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text and not text.strip(".") else text


def climbs(url: str) -> bool:
    """Whether the URL's path has a ``.`` or ``..`` segment, written plainly or percent-encoded.

    HTTP clients resolve those before sending (``/a/%2E%2E/b`` goes out as ``/b``), so such
    a path would reach another endpoint than the one it names."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False  # not a URL at all; parsing it again says so
    return any(unquote(part) in (".", "..") for part in path.split("/"))


def _parse_json(resp: Response) -> Any:
    if not resp.content:
        return None
    try:
        return jsonutil.loads(resp.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:200] + "…"


async def call(
    client: HttpClient,
    out: Outgoing,
    *,
    timeout: float,
    allow_private: bool,
    redactor: Redactor,
    idempotency_key: str | None = None,
) -> Response:
    """Send ``out`` to a guarded, pinned address; transport failures become DeliveryError."""
    if climbs(out.url):
        reason = f"refused {redactor.url(out.url)}: its path has a '.' or '..' segment"
        raise DeliveryError(reason, retryable=False)
    try:
        url = httpx.URL(out.url)
        if out.params:
            url = url.copy_merge_params(out.params)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        reason = f"invalid URL {redactor.url(out.url)}: {type(exc).__name__}"
        raise DeliveryError(reason, retryable=False) from exc
    url, auth = _basic_auth(url, out.headers, redactor)
    checked = await netguard.guard_url(url, allow_private=allow_private)
    pinned, host_header, server_hostname = netguard.pin(url, checked)
    headers = {"User-Agent": USER_AGENT, **out.headers, **auth, **host_header}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    try:
        return await client.request(
            out.method,
            str(pinned),
            headers=headers,
            json=out.json,
            timeout=timeout,
            server_hostname=server_hostname,
        )
    except Timeout as exc:
        where = f"{out.method} {redactor.url(str(url))}"
        raise DeliveryError(f"{where}: timed out after {timeout:g}s", retryable=True) from exc
    except TransportError as exc:
        where = f"{out.method} {redactor.url(str(url))}"
        raise DeliveryError(f"{where}: {redactor(str(exc))}", retryable=True) from exc
    except ValueError as exc:  # the client refuses what it cannot send: a header with a newline, …
        where = f"{out.method} {redactor.url(str(url))}"
        raise DeliveryError(f"{where}: cannot be sent: {redactor(str(exc))}", retryable=False) from exc


def _basic_auth(url: httpx.URL, headers: Mapping[str, str], redactor: Redactor) -> tuple[httpx.URL, dict[str, str]]:
    """Credentials in the URL become an explicit ``Authorization: Basic`` header and leave the
    URL, so no URL that is sent, shown or logged carries them. With an Authorization header
    as well there would be two credentials: that is refused (permanent), never guessed."""
    if not url.userinfo:
        return url, {}
    if any(name.lower() == "authorization" for name in headers):
        reason = f"refused {redactor.url(str(url))}: it has credentials and the request an Authorization header"
        raise DeliveryError(reason + "; keep one", retryable=False)
    pair = f"{url.username}:{url.password}".encode()
    return url.copy_with(username=None, password=None), {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def judge(
    resp: Response,
    redactor: Redactor,
    *,
    ok: Callable[[int], bool] = is_success,
    clock: Callable[[], float] = time.time,
) -> SendResult:
    """The SendResult for an answer ``ok`` accepts; otherwise the classified DeliveryError."""
    text = resp.text if resp.content else ""
    snippet = excerpt(text, redactor) if text else None
    headers = redact_headers(dict(resp.headers), ("set-cookie",))
    if ok(resp.status_code):
        return SendResult(resp.status_code, snippet, _parse_json(resp), headers)
    retry_after = parse_retry_after(resp.headers.get("retry-after"), clock())
    reason = f"HTTP {resp.status_code}"
    if 300 <= resp.status_code < 400:
        reason += " (redirects are not followed)"
    elif text:
        reason += f": {_short(redactor(text))}"
    raise DeliveryError(
        reason,
        retryable=classify(resp.status_code),
        status=resp.status_code,
        retry_after=retry_after,
        response_excerpt=snippet,
    )


def join(base_url: str, path: str) -> str:
    """``base_url`` + ``path`` with exactly one slash between them; a query in either is kept
    after the joined path (a generic webhook URL often carries its key as ``?key=…``)."""
    base, _, base_query = base_url.partition("?")
    path, _, query = path.partition("?")
    joined = base.rstrip("/") + "/" + path.lstrip("/")
    query = "&".join(q for q in (base_query, query) if q)
    return f"{joined}?{query}" if query else joined


def same_origin(a: str, b: str) -> bool:
    ua, ub = httpx.URL(a), httpx.URL(b)
    return (ua.scheme, ua.host, ua.port) == (ub.scheme, ub.host, ub.port)


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win, names compared case-insensitively, the last spelling kept."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())
