"""Who may read and act on the delivery log.

With ``web.token`` configured, ``/api`` wants ``Authorization: Bearer <token>`` and
``/ui`` takes the same header or the ``hookyard_token`` cookie that ``/ui/login`` sets.
Without a token, both answer loopback clients only, and only when the ``Host`` header
names the loopback too: a page on some other site that rebinds its DNS name to
127.0.0.1 then still cannot read the log or act on it.

Unsafe methods also need the request to come from the page itself: an ``Origin``
header, when present, must be the request's own origin, and ``/ui`` forms carry a
CSRF token (an HMAC of a per-process key, so a restart expires open forms).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from receiver.secret import Secret

COOKIE = "hookyard_token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Endpoint = Callable[[Request], Awaitable[Response]]
# (request, status, code, message) → the response a denied request gets (JSON or HTML).
Deny = Callable[[Request, int, str, str], Response]


def is_loopback_client(client: Any) -> bool:
    """The ASGI ``client`` (host, port) is in 127.0.0.0/8 or ::1 (IPv4-mapped forms included)."""
    if not client:
        return False
    try:
        addr = ipaddress.ip_address(str(client[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def is_loopback_host(host_header: str | None) -> bool:
    """The Host header names the loopback (``localhost``, ``127.x.y.z``, ``[::1]``), any port."""
    if host_header is None:
        return True  # HTTP/1.0 without Host: no browser sends that, so no DNS rebinding either
    try:
        host = urlsplit("//" + host_header.strip()).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_origin(request: Request) -> bool:
    """No ``Origin`` header (not a browser), or one naming this very host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host")
    try:
        return host is not None and urlsplit(origin).netloc.lower() == host.strip().lower()
    except ValueError:
        return False


class Guard:
    """The access rules for ``/api`` and ``/ui``; wraps their endpoints."""

    def __init__(self, token: Secret | None) -> None:
        self._token = token.encode() if token else None
        self._key = secrets.token_bytes(32)
        # The cookie holds a value derived from the token, not the token itself: the
        # browser never stores the credential that /api accepts.
        self._cookie = hmac.new(self._token, b"hookyard ui cookie", hashlib.sha256).hexdigest() if self._token else None

    @property
    def token_required(self) -> bool:
        return self._token is not None

    def token_matches(self, given: str) -> bool:
        return self._token is not None and hmac.compare_digest(given.encode(), self._token)

    @property
    def cookie_value(self) -> str:
        assert self._cookie is not None, "no token configured"
        return self._cookie

    def csrf_token(self, purpose: str = "ui") -> str:
        """The hidden-field token of forms for ``purpose`` (the login form has its own)."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, given: str | None, purpose: str = "ui") -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf_token(purpose).encode())

    def denial(self, request: Request, *, ui: bool) -> tuple[int, str, str] | None:
        """None when the request may go on, else (status, code, message)."""
        if self._token is None:
            if not is_loopback_client(request.scope.get("client")):
                return 403, "forbidden", "the delivery log answers loopback clients only (no web.token is set)"
            if not is_loopback_host(request.headers.get("host")):
                return 403, "forbidden", "the Host header must name the loopback when no web.token is set"
        elif not self._authenticated(request, ui=ui):
            return 401, "unauthorized", "a valid token is required"
        if request.method not in SAFE_METHODS and not same_origin(request):
            return 403, "cross_origin", "the request comes from another origin"
        return None

    def _authenticated(self, request: Request, *, ui: bool) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(given.strip()):
            return True
        cookie = request.cookies.get(COOKIE)
        return ui and cookie is not None and hmac.compare_digest(cookie.encode(), self.cookie_value.encode())

    def protect(self, endpoint: Endpoint, deny: Deny, *, ui: bool) -> Endpoint:
        async def guarded(request: Request) -> Response:
            refused = self.denial(request, ui=ui)
            if refused is not None:
                return deny(request, *refused)
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "guarded")
        return guarded
