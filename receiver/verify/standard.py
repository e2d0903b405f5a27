"""Standard Webhooks (and Svix): ``{id}.{timestamp}.{body}`` signed as ``v1``/``v1a``.

Headers are ``webhook-id``/``webhook-timestamp``/``webhook-signature``; the ``svix-``
names are read first, as the svix library does. The signature header is a
space-separated list of ``version,base64`` entries (several during key rotation):
- ``v1``: HMAC-SHA256 keyed with base64-decode(secret minus ``whsec_``), unlike Stripe;
- ``v1a``: Ed25519, checked with a ``whpk_`` public key (or the public half of a ``whsk_``).
Unknown versions are skipped; malformed entries only matter if nothing else is usable.
"""

from __future__ import annotations

import base64
import secrets as random
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify._common import Tolerance, any_match, decode_b64, mac, require_secrets
from receiver.verify.base import RawRequest, Verified, Verifier, check_timestamp

SCHEME = "standard"
PREFIXES = ("svix-", "webhook-")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tolerance_seconds: Tolerance = 300


@dataclass
class Keys:
    """The usable form of the configured secrets."""

    hmac: list[bytes] = field(default_factory=list)
    public: list[Ed25519PublicKey] = field(default_factory=list)
    private: list[Ed25519PrivateKey] = field(default_factory=list)


def _private_key(raw: bytes, where: str) -> Ed25519PrivateKey:
    """A ``whsk_`` key: 32-byte seed followed by its 32-byte public key."""
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != raw[32:]:
        raise ValueError(f"{where}: the public half of the whsk_ key does not match its seed")
    return key


def parse_secret(secret: Secret, index: int) -> Keys:
    """Decode one configured secret; ValueError (without the value) if it is not a valid key."""
    text = secret.reveal().strip()
    where = f"standard webhooks secret #{index + 1}"
    for prefix, size in (("whsec_", None), ("whpk_", 32), ("whsk_", 64)):
        if text.startswith(prefix):
            raw = decode_b64(text[len(prefix) :], size)
            if not raw:
                expected = f"{size} bytes of " if size else ""
                raise ValueError(f"{where}: expected {prefix}<{expected}base64>")
            if prefix == "whsec_":
                return Keys(hmac=[raw])
            if prefix == "whpk_":
                return Keys(public=[Ed25519PublicKey.from_public_bytes(raw)])
            private = _private_key(raw, where)
            return Keys(public=[private.public_key()], private=[private])
    raise ValueError(f"{where}: expected whsec_<base64>, whpk_<base64> or whsk_<base64>")


def _header(req: RawRequest, name: str) -> str | None:
    for prefix in PREFIXES:
        value = req.header(prefix + name)
        if value is not None:
            return value
    return None


@dataclass
class StandardVerifier:
    tolerance: int
    keys: Keys = field(repr=False)
    scheme: str = SCHEME

    def verify(self, req: RawRequest, now: float) -> Verified:
        value = _header(req, "signature")
        if value is None or not value.strip():
            raise VerificationError("signature_missing", "webhook-signature header is missing")
        msg_id = _header(req, "id")
        if not msg_id:
            raise VerificationError("signature_missing", "webhook-id header is missing")
        hmacs: list[bytes] = []
        ed25519: list[bytes] = []
        for entry in value.split():
            version, _, encoded = entry.partition(",")
            if version == "v1" and self.keys.hmac:
                sig = decode_b64(encoded, 32)
                if sig is not None:
                    hmacs.append(sig)
            elif version == "v1a" and self.keys.public:
                sig = decode_b64(encoded, 64)
                if sig is not None:
                    ed25519.append(sig)
        if not hmacs and not ed25519:
            raise VerificationError("signature_malformed", "webhook-signature has no usable signature")
        raw_ts = _header(req, "timestamp")
        ts = check_timestamp(raw_ts, now, self.tolerance)
        content = f"{msg_id}.{raw_ts}.".encode() + req.body
        if not (
            any_match(hmacs, (mac("sha256", k, content) for k in self.keys.hmac))
            or any(_ed25519_ok(pk, sig, content) for pk in self.keys.public for sig in ed25519)
        ):
            raise VerificationError("signature_mismatch", "webhook-signature does not match the body")
        return Verified(scheme=SCHEME, delivery_id=msg_id, signature=value, timestamp=ts)


def _ed25519_ok(key: Ed25519PublicKey, sig: bytes, content: bytes) -> bool:
    try:
        key.verify(sig, content)
    except InvalidSignature:
        return False
    return True


def build(options: Options, secrets: Sequence[Secret]) -> Verifier:
    keys = Keys()
    for index, secret in enumerate(require_secrets(SCHEME, secrets)):
        parsed = parse_secret(secret, index)
        keys.hmac += parsed.hmac
        keys.public += parsed.public
    return StandardVerifier(tolerance=options.tolerance_seconds, keys=keys)


def sign(
    options: Options, secret: Secret, body: bytes, now: float, *, delivery_id: str | None = None
) -> dict[str, str]:
    keys = parse_secret(secret, 0)
    msg_id = delivery_id or f"msg_{random.token_urlsafe(18)}"
    ts = str(int(now))
    content = f"{msg_id}.{ts}.".encode() + body
    if keys.hmac:
        signature = "v1," + base64.b64encode(mac("sha256", keys.hmac[0], content)).decode()
    elif keys.private:
        signature = "v1a," + base64.b64encode(keys.private[0].sign(content)).decode()
    else:
        raise ValueError("standard: a whpk_ public key cannot sign; signing needs the whsk_ secret key")
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature}
