"""GitHub signatures: ``X-Hub-Signature-256: sha256=<hex>`` of the raw body.

The legacy SHA-1 header (``X-Hub-Signature: sha1=<hex>``) is used only when the source
says ``algorithm: sha1``; never as a fallback, which would let a forger pick the weaker
MAC. Nothing is timestamped: replay protection is deduplication on ``X-GitHub-Delivery``,
which the github adapter reads itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify._common import DIGEST_SIZE, any_match, decode_hex, mac, require_secrets, required_header
from receiver.verify.base import RawRequest, Verified, Verifier

SCHEME = "github"
DEFAULT_HEADER = {"sha256": "X-Hub-Signature-256", "sha1": "X-Hub-Signature"}


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["sha256", "sha1"] = "sha256"
    header: str | None = None  # default depends on the algorithm

    @property
    def header_name(self) -> str:
        return self.header or DEFAULT_HEADER[self.algorithm]


@dataclass
class GitHubVerifier:
    header: str
    algorithm: str
    keys: list[bytes] = field(repr=False)
    scheme: str = SCHEME

    def verify(self, req: RawRequest, now: float) -> Verified:
        value = required_header(req, self.header)
        prefix, sep, hexsig = value.strip().partition("=")
        sig = decode_hex(hexsig, DIGEST_SIZE[self.algorithm]) if sep and prefix == self.algorithm else None
        if sig is None:
            raise VerificationError("signature_malformed", f"{self.header} is not {self.algorithm}=<hex>")
        if not any_match([sig], (mac(self.algorithm, k, req.body) for k in self.keys)):
            raise VerificationError("signature_mismatch", f"{self.header} does not match the body")
        return Verified(scheme=SCHEME, signature=value)


def build(options: Options, secrets: Sequence[Secret]) -> Verifier:
    keys = [s.encode() for s in require_secrets(SCHEME, secrets)]
    return GitHubVerifier(header=options.header_name, algorithm=options.algorithm, keys=keys)


def sign(
    options: Options, secret: Secret, body: bytes, now: float, *, delivery_id: str | None = None
) -> dict[str, str]:
    digest = mac(options.algorithm, secret.encode(), body).hex()
    headers = {options.header_name: f"{options.algorithm}={digest}"}
    if delivery_id is not None:
        headers["X-GitHub-Delivery"] = delivery_id
    return headers
