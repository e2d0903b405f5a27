"""No verification at all. The config layer only allows it with ``insecure: true``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from receiver.secret import Secret
from receiver.verify.base import RawRequest, Verified, Verifier

SCHEME = "none"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class NoVerifier:
    scheme: str = SCHEME

    def verify(self, req: RawRequest, now: float) -> Verified:
        return Verified(scheme=SCHEME)


def build(options: Options, secrets: Sequence[Secret]) -> Verifier:
    return NoVerifier()


def sign(
    options: Options, secret: Secret, body: bytes, now: float, *, delivery_id: str | None = None
) -> dict[str, str]:
    return {}
