"""The verification interface: one module per scheme, one registry.

A scheme module defines ``Options`` (a pydantic model of its ``verify:`` keys,
``extra="forbid"``) and ``build(options, secrets) -> Verifier``. Verifiers check the
*raw* body bytes before anything parses them, compare in constant time, and accept
any of the configured secrets (rotation). ``now`` is injected so tests can use the
published fixed-timestamp vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from receiver.errors import VerificationError


@dataclass(frozen=True)
class RawRequest:
    """One inbound request as received: raw body bytes, lower-cased header names."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = ""
    query: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Verified:
    """What verification learned. ``delivery_id`` is a provider delivery id the
    scheme itself carries (``webhook-id``/``svix-id``); ``signature`` is the header
    value that was checked (a redelivery with the same value is a duplicate)."""

    scheme: str
    delivery_id: str | None = None
    signature: str | None = None
    timestamp: int | None = None


class Verifier(Protocol):
    scheme: str

    def verify(self, req: RawRequest, now: float) -> Verified:
        """Return what was verified, or raise VerificationError (401, distinct codes)."""
        ...


def check_timestamp(raw: str | None, now: float, tolerance: int) -> int:
    """Parse a unix-seconds timestamp and reject it outside ``now ± tolerance``.

    Exactly ``tolerance`` seconds away is still accepted (as Slack and Standard
    Webhooks libraries do).
    """
    if raw is None or raw == "":
        raise VerificationError("timestamp_missing", "signature timestamp is missing")
    try:
        ts = int(raw.strip())
    except ValueError:
        raise VerificationError("timestamp_malformed", "signature timestamp is not an integer") from None
    if ts < now - tolerance:
        raise VerificationError("timestamp_stale", f"signature timestamp is older than {tolerance} s")
    if ts > now + tolerance:
        raise VerificationError("timestamp_future", f"signature timestamp is more than {tolerance} s ahead")
    return ts
