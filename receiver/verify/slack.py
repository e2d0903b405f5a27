"""Slack request signing: ``X-Slack-Signature: v0=<hex>`` over ``"v0:{ts}:{body}"``.

The timestamp is ``X-Slack-Request-Timestamp``; like ``slack_sdk`` we reject only when
``abs(now - ts) > tolerance``, so exactly ``tolerance`` seconds away is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify._common import Tolerance, any_match, decode_hex, mac, require_secrets, required_header
from receiver.verify.base import RawRequest, Verified, Verifier, check_timestamp

SCHEME = "slack"
SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tolerance_seconds: Tolerance = 300


@dataclass
class SlackVerifier:
    tolerance: int
    keys: list[bytes] = field(repr=False)
    scheme: str = SCHEME

    def verify(self, req: RawRequest, now: float) -> Verified:
        value = required_header(req, SIGNATURE_HEADER)
        version, sep, hexsig = value.strip().partition("=")
        sig = decode_hex(hexsig, 32) if sep and version == "v0" else None
        if sig is None:
            raise VerificationError("signature_malformed", f"{SIGNATURE_HEADER} is not v0=<hex>")
        raw_ts = req.header(TIMESTAMP_HEADER)
        ts = check_timestamp(raw_ts, now, self.tolerance)
        message = f"v0:{raw_ts}:".encode() + req.body
        if not any_match([sig], (mac("sha256", k, message) for k in self.keys)):
            raise VerificationError("signature_mismatch", f"{SIGNATURE_HEADER} does not match the body")
        return Verified(scheme=SCHEME, signature=value, timestamp=ts)


def build(options: Options, secrets: Sequence[Secret]) -> Verifier:
    keys = [s.encode() for s in require_secrets(SCHEME, secrets)]
    return SlackVerifier(tolerance=options.tolerance_seconds, keys=keys)


def sign(
    options: Options, secret: Secret, body: bytes, now: float, *, delivery_id: str | None = None
) -> dict[str, str]:
    ts = str(int(now))
    sig = mac("sha256", secret.encode(), f"v0:{ts}:".encode() + body).hex()
    return {SIGNATURE_HEADER: f"v0={sig}", TIMESTAMP_HEADER: ts}
