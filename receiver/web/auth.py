"""Who may read and act on the delivery log.

With ``web.token`` configured, ``/api`` wants ``Authorization: Bearer <token>`` and
``/ui`` takes the same header or the session cookie that ``/ui/login`` sets. Sessions
are random ids kept in the store (by hash), so they hold in every process, expire after
``SESSION_SECONDS`` and end everywhere on logout. Wrong tokens are throttled per client
(``throttle.py``). With a token, ``/metrics`` and the details of ``/readyz`` want it too
(``web.metrics_need_token``).

Without a token, ``/api`` and ``/ui`` answer loopback clients only, and only when the
``Host`` header names the loopback too: a page on some other site that rebinds its DNS
name to 127.0.0.1 then still cannot read the log or act on it.

Unsafe methods also need the request to come from the page itself: an ``Origin``
header, when present, must be the request's own origin, and ``/ui`` forms carry a
CSRF token: an HMAC, under a key made once and kept in the store (the same in every
process), of the form's purpose and the session it was rendered for.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver.errors import error_body
from receiver.secret import Secret
from receiver.store.contract import WebStore
from receiver.web.throttle import FailureThrottle

COOKIE = "hookyard_session"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_SECONDS = 12 * 3600

Endpoint = Callable[[Request], Awaitable[Response]]
# (request, status, code, message) → the response a denied request gets (JSON or HTML).
Deny = Callable[[Request, int, str, str], Response]


def json_deny(request: Request, status: int, code: str, message: str) -> Response:
    """A refused API (or /metrics) request: ``{"error", "code"}``."""
    headers = {"WWW-Authenticate": 'Bearer realm="hookyard"'} if status == 401 else None
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    retry_after: int | None = None

    def respond(self, request: Request, deny: Deny) -> Response:
        response = deny(request, self.status, self.code, self.message)
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


UNAUTHORIZED = Refusal(401, "unauthorized", "a valid token is required")


def throttled(wait: int) -> Refusal:
    return Refusal(429, "throttled", f"too many wrong tokens from this address; try again in {wait} s", wait)


def session_hash(session_id: str) -> str:
    """What the store keeps of a session id (a copy of the database opens no session)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def client_address(request: Request) -> str:
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


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
    """The access rules for ``/api``, ``/ui``, ``/metrics`` and ``/readyz``; wraps their endpoints."""

    def __init__(
        self,
        token: Secret | None,
        store: WebStore,
        clock: Callable[[], float],
        *,
        ops_need_token: bool = True,
    ) -> None:
        self._token = token.encode() if token else None
        self.store = store
        self.clock = clock
        self.throttle = FailureThrottle(clock)
        self.ops_need_token = ops_need_token and self._token is not None
        self._key: bytes | None = None
        self._key_lock = asyncio.Lock()

    @property
    def token_required(self) -> bool:
        return self._token is not None

    def token_matches(self, given: str) -> bool:
        return self._token is not None and hmac.compare_digest(given.encode(), self._token)

    # -- form tokens -------------------------------------------------------------------------
    async def load_key(self) -> None:
        """Read (or make, once for all processes) the CSRF key; later calls cost nothing."""
        if self._key is not None:
            return
        async with self._key_lock:
            if self._key is None:
                stored = await self.store.web_key("csrf", secrets.token_hex(32), self.clock())
                self._key = bytes.fromhex(stored)

    def csrf_token(self, request: Request, purpose: str = "ui") -> str:
        """The hidden-field token of forms for ``purpose`` (the login form has its own),
        bound to the request's session when it has one (logging out voids its forms)."""
        assert self._key is not None, "load_key() first (protect/public do)"
        message = f"{purpose}\0{getattr(request.state, 'session', '')}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, given: str | None, purpose: str = "ui") -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf_token(request, purpose).encode())

    # -- who is asking -----------------------------------------------------------------------
    def check_token(self, request: Request, given: str) -> bool | Refusal:
        """A presented token: right (True), wrong (False, counted) or not looked at (throttled)."""
        client = client_address(request)
        wait = self.throttle.retry_after(client)
        if wait is not None:
            return throttled(wait)
        if self.token_matches(given):
            return True
        self.throttle.failed(client)
        return False

    def _bearer(self, request: Request) -> bool | Refusal | None:
        """None: no bearer token presented."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.check_token(request, given.strip())

    async def _authenticated(self, request: Request, *, ui: bool) -> Refusal | None:
        bearer = self._bearer(request)
        if isinstance(bearer, Refusal):
            return bearer
        if bearer is True:
            return None
        session_id = request.cookies.get(COOKIE) if ui else None
        if session_id:
            hashed = session_hash(session_id)
            if await self.store.session_alive(hashed, self.clock()):
                request.state.session = hashed
                return None
        return UNAUTHORIZED

    async def denial(self, request: Request, *, ui: bool) -> Refusal | None:
        """None when the request may go on, else why not."""
        if self._token is None:
            if not is_loopback_client(request.scope.get("client")):
                return Refusal(403, "forbidden", "the delivery log answers loopback clients only (no web.token is set)")
            if not is_loopback_host(request.headers.get("host")):
                return Refusal(403, "forbidden", "the Host header must name the loopback when no web.token is set")
        else:
            refused = await self._authenticated(request, ui=ui)
            if refused is not None:
                return refused
        if request.method not in SAFE_METHODS and not same_origin(request):
            return Refusal(403, "cross_origin", "the request comes from another origin")
        return None

    # -- sessions ----------------------------------------------------------------------------
    async def start_session(self) -> str:
        """A new random session id (the cookie value); the store keeps its hash until it expires."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        await self.store.add_session(session_hash(session_id), now, now + SESSION_SECONDS)
        return session_id

    async def end_session(self, request: Request) -> None:
        session_id = request.cookies.get(COOKIE)
        if session_id:
            await self.store.end_session(session_hash(session_id))

    # -- wrappers ----------------------------------------------------------------------------
    def protect(self, endpoint: Endpoint, deny: Deny, *, ui: bool) -> Endpoint:
        async def guarded(request: Request) -> Response:
            await self.load_key()
            refused = await self.denial(request, ui=ui)
            if refused is not None:
                return refused.respond(request, deny)
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "guarded")
        return guarded

    def public(self, endpoint: Endpoint) -> Endpoint:
        """An endpoint anyone may reach that renders forms (the login page)."""

        async def keyed(request: Request) -> Response:
            await self.load_key()
            return await endpoint(request)

        keyed.__name__ = getattr(endpoint, "__name__", "keyed")
        return keyed

    def ops(self, endpoint: Endpoint, *, status_is_public: bool = False) -> Endpoint:
        """``/metrics`` (all or nothing) and ``/readyz`` (``status_is_public``: without the
        token only ``{"status"}`` and the status code, for load balancers)."""
        if not self.ops_need_token:
            return endpoint

        async def guarded(request: Request) -> Response:
            bearer = self._bearer(request)
            if bearer is True:
                return await endpoint(request)
            if isinstance(bearer, Refusal):
                return bearer.respond(request, json_deny)
            if not status_is_public:
                return UNAUTHORIZED.respond(request, json_deny)
            full = await endpoint(request)
            status: Any = json.loads(bytes(full.body)).get("status")
            return JSONResponse({"status": status}, status_code=full.status_code)

        guarded.__name__ = getattr(endpoint, "__name__", "guarded")
        return guarded
