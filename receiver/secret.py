"""Secrets: a string that never shows itself (repr and str are ``<secret>``), and which
headers carry one."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit, urlunsplit


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def encode(self) -> bytes:
        return self._value.encode("utf-8")

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


# Which headers are secret: the one definition (compared case-insensitively, any platform's
# spelling). A credential header is never stored with an event, never given to templates, and
# shown redacted. A signature header carries a MAC of one body: no credential (it proves nothing
# about any other body), so a stored event keeps it for checking by hand; but templates are not
# given it and outbound headers show it redacted, where a configured value under such a name may
# well be a static credential.
_CREDENTIAL = r"authorization|cookie|token|secret|api[-_]?key|password|session"
CREDENTIAL_HEADER = re.compile(_CREDENTIAL, re.I)
SENSITIVE_HEADER = re.compile(_CREDENTIAL + "|signature", re.I)


# Names repeat from request to request: one regex search per distinct name (bounded: names are
# chosen by whoever sends the request).
@lru_cache(maxsize=1024)
def is_credential_header(name: str) -> bool:
    return CREDENTIAL_HEADER.search(name) is not None


@lru_cache(maxsize=1024)
def is_sensitive_header(name: str) -> bool:
    """A credential or a signature header: not for templates, redacted where shown."""
    return SENSITIVE_HEADER.search(name) is not None


def stored_headers(headers: Mapping[str, str], also: Collection[str] = ()) -> dict[str, str]:
    """``headers`` as stored with an event: without credential headers; ``also``: more
    lower-case names to leave out (a source's own credential header, e.g. a token scheme's)."""
    return {k: v for k, v in headers.items() if not is_credential_header(k) and k.lower() not in also}


def template_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` as templates see them: without credential or signature headers."""
    return {k: v for k, v in headers.items() if not is_sensitive_header(k)}


REDACTED = "<redacted>"
# Query parameter names whose values are credentials.
SECRET_PARAM = re.compile(r"token|secret|key|sig|signature|password|passwd|pass|auth|code|credential", re.I)


def redact_url(url: str, hides: Callable[[str], bool] = lambda part: False) -> str:
    """The URL with its password, credential-like query values and Slack hook tokens hidden,
    and every path segment, user and query value for which ``hides`` is true (see Redactor)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        if hides(unquote(user)):
            user = REDACTED
        netloc = f"{user}:{REDACTED}@{hostport}" if ":" in userinfo else f"{REDACTED}@{hostport}"
    path = parts.path
    if parts.hostname == "hooks.slack.com":
        # The whole path of an incoming-webhook URL is the credential.
        path = "/services/" + REDACTED if path.startswith("/services/") else "/" + REDACTED
    path = "/".join(REDACTED if s and hides(unquote(s)) else s for s in path.split("/"))
    query = "&".join(
        f"{quote(k, safe='')}={REDACTED if SECRET_PARAM.search(k) or hides(v) else quote(v, safe='')}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(SplitResult(parts.scheme, netloc, path, query, ""))
