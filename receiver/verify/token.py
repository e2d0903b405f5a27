"""A shared token sent in plain text in a header (GitLab's ``X-Gitlab-Token`` style).

It proves nothing about the body and can be replayed, so treat it as a bearer token.
The token is a secret: it is compared in constant time and never reported back, not
even as ``Verified.signature`` (which is stored for deduplication).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify._common import require_secrets, required_header
from receiver.verify.base import RawRequest, Verified, Verifier

SCHEME = "token"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    header: str


@dataclass
class TokenVerifier:
    header: str
    tokens: list[bytes] = field(repr=False)
    scheme: str = SCHEME

    def verify(self, req: RawRequest, now: float) -> Verified:
        # Header values arrive as str; compare UTF-8 bytes since compare_digest rejects non-ASCII str.
        value = required_header(req, self.header).encode("utf-8")
        matched = False
        for token in self.tokens:
            matched |= hmac.compare_digest(value, token)
        if not matched:
            raise VerificationError("token_mismatch", f"{self.header} does not match any configured token")
        return Verified(scheme=SCHEME)


def build(options: Options, secrets: Sequence[Secret]) -> Verifier:
    tokens = [s.encode() for s in require_secrets(SCHEME, secrets)]
    return TokenVerifier(header=options.header, tokens=tokens)


def sign(
    options: Options, secret: Secret, body: bytes, now: float, *, delivery_id: str | None = None
) -> dict[str, str]:
    return {options.header: secret.reveal()}
