"""Small pieces every scheme module shares: secret checks, MACs, lenient decoding.

Decoders return ``None`` instead of raising, so a malformed header can never escape
as a ``ValueError``/``binascii.Error`` (a 500); the scheme decides which 401 it is.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from pydantic import Field

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify.base import RawRequest

Algorithm = Literal["sha1", "sha256", "sha512"]
Tolerance = Annotated[int, Field(gt=0)]

DIGEST_SIZE: dict[str, int] = {"sha1": 20, "sha256": 32, "sha512": 64}


def require_secrets(scheme: str, secrets: Sequence[Secret]) -> list[Secret]:
    """The secrets, or ValueError if there are none or one is empty (never shows a value)."""
    if not secrets:
        raise ValueError(f"scheme {scheme!r} needs at least one secret")
    for index, secret in enumerate(secrets):
        if not secret:
            raise ValueError(f"scheme {scheme!r}: secret #{index + 1} is empty")
    return list(secrets)


def mac(algorithm: str, key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, algorithm)  # one-shot, OpenSSL: no Python-level HMAC object


def any_match(candidates: Iterable[bytes], expected: Iterable[bytes]) -> bool:
    """True if any received candidate equals any expected MAC (constant-time compares)."""
    wanted = list(expected)
    return any(hmac.compare_digest(c, e) for c in candidates for e in wanted)


def decode_hex(text: str, size: int) -> bytes | None:
    """Hex (either case) of exactly ``size`` bytes, else None."""
    text = text.strip()
    if len(text) != size * 2:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def decode_b64(text: str, size: int | None = None) -> bytes | None:
    """Standard base64, padding optional; None if invalid or not ``size`` bytes long."""
    text = text.strip().rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if size is not None and len(raw) != size:
        return None
    return raw


def required_header(req: RawRequest, name: str) -> str:
    """The header's value, or ``signature_missing`` when absent or blank."""
    value = req.header(name)
    if value is None or not value.strip():
        raise VerificationError("signature_missing", f"{name} header is missing")
    return value
