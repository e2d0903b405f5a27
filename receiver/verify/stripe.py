"""Stripe-style signatures: ``t=<unix>,v1=<hex>[,v1=…]`` over ``"{t}.{body}"``.

Also Fusillade's scheme (``header: X-Fusillade-Signature``). The HMAC-SHA256 key is the
UTF-8 bytes of the whole secret string: a ``whsec_`` prefix is part of the key, not
base64 to decode (that is Standard Webhooks). Only ``v1`` counts; ``v0`` is Stripe's
fake test-mode scheme and accepting it would allow a downgrade.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify._common import Tolerance, any_match, decode_hex, mac, require_secrets, required_header
from receiver.verify.base import RawRequest, Verified, Verifier, check_timestamp

SCHEME = "stripe"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    header: str = "Stripe-Signature"
    tolerance_seconds: Tolerance = 300


@dataclass
class StripeVerifier:
    header: str
    tolerance: int
    keys: list[bytes] = field(repr=False)
    scheme: str = SCHEME

    def verify(self, req: RawRequest, now: float) -> Verified:
        value = required_header(req, self.header)
        timestamp: str | None = None
        candidates: list[str] = []
        for item in value.split(","):
            key, sep, val = item.partition("=")
            key = key.strip()
            if not sep:
                continue
            if key == "t":
                timestamp = val.strip()
            elif key == "v1":
                candidates.append(val)
        sigs = [s for s in (decode_hex(c, 32) for c in candidates) if s is not None]
        if not sigs:
            raise VerificationError("signature_malformed", f"{self.header} has no usable v1 signature")
        ts = check_timestamp(timestamp, now, self.tolerance)
        # Sign over the timestamp text as sent, exactly as the sender formatted it.
        message = f"{timestamp}.".encode() + req.body
        if not any_match(sigs, (mac("sha256", k, message) for k in self.keys)):
            raise VerificationError("signature_mismatch", f"{self.header} does not match the body")
        return Verified(scheme=SCHEME, signature=value, timestamp=ts)


def build(options: Options, secrets: Sequence[Secret]) -> Verifier:
    keys = [s.encode() for s in require_secrets(SCHEME, secrets)]
    return StripeVerifier(header=options.header, tolerance=options.tolerance_seconds, keys=keys)


def sign(
    options: Options, secret: Secret, body: bytes, now: float, *, delivery_id: str | None = None
) -> dict[str, str]:
    t = str(int(now))
    sig = mac("sha256", secret.encode(), t.encode() + b"." + body).hex()
    return {options.header: f"t={t},v1={sig}"}
