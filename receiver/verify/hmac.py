"""Generic HMAC in one header, for senders that follow no named scheme.

Configurable like adnanh/webhook and Hookdeck: ``algorithm`` (sha1/sha256/sha512),
``encoding`` (hex/base64), an optional ``prefix`` (``sha256=``), and a ``signed_string``
template over ``{body}``, ``{timestamp}`` (from ``timestamp_header``, tolerance-checked)
and ``{id}`` (from ``id_header``, also the delivery id). A header may carry several
comma-separated signatures; any one matching any secret is enough.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify._common import (
    DIGEST_SIZE,
    Algorithm,
    Tolerance,
    any_match,
    decode_b64,
    decode_hex,
    mac,
    require_secrets,
    required_header,
)
from receiver.verify.base import RawRequest, Verified, Verifier, check_timestamp

SCHEME = "hmac"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    header: str = Field(min_length=1)
    algorithm: Algorithm = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str | None = None
    timestamp_header: str | None = None
    id_header: str | None = None
    signed_string: str = "{body}"
    tolerance_seconds: Tolerance = 300

    @model_validator(mode="after")
    def _check_template(self) -> Options:
        names = PLACEHOLDER.findall(self.signed_string)
        unknown = sorted(set(names) - {"body", "timestamp", "id"})
        if unknown:
            known = "{body}, {timestamp}, {id}"
            raise ValueError(f"signed_string: unknown placeholder(s) {unknown}; use {known}")
        if "body" not in names:
            raise ValueError("signed_string must contain {body}, or the body would not be signed")
        if "timestamp" in names and not self.timestamp_header:
            raise ValueError("signed_string uses {timestamp} but timestamp_header is not set")
        if "id" in names and not self.id_header:
            raise ValueError("signed_string uses {id} but id_header is not set")
        return self


def render(template: str, body: bytes, timestamp: str | None, msg_id: str | None) -> bytes:
    """The signed bytes: the template with placeholders filled, the body inserted raw."""
    values = {"timestamp": (timestamp or "").encode(), "id": (msg_id or "").encode(), "body": body}
    out = bytearray()
    pos = 0
    for m in PLACEHOLDER.finditer(template):
        out += template[pos : m.start()].encode() + values[m.group(1)]
        pos = m.end()
    out += template[pos:].encode()
    return bytes(out)


@dataclass
class HmacVerifier:
    options: Options
    keys: list[bytes] = field(repr=False)
    scheme: str = SCHEME

    def _decode(self, item: str) -> bytes | None:
        item = item.strip()
        prefix = self.options.prefix
        if prefix and item.startswith(prefix):
            item = item[len(prefix) :]
        size = DIGEST_SIZE[self.options.algorithm]
        return decode_hex(item, size) if self.options.encoding == "hex" else decode_b64(item, size)

    def verify(self, req: RawRequest, now: float) -> Verified:
        opts = self.options
        value = required_header(req, opts.header)
        sigs = [s for s in map(self._decode, value.split(",")) if s is not None]
        if not sigs:
            message = f"{opts.header} holds no {opts.encoding} signature"
            raise VerificationError("signature_malformed", message)
        ts: int | None = None
        raw_ts: str | None = None
        if opts.timestamp_header:
            raw_ts = req.header(opts.timestamp_header)
            ts = check_timestamp(raw_ts, now, opts.tolerance_seconds)
        msg_id = req.header(opts.id_header) if opts.id_header else None
        if "{id}" in opts.signed_string and not msg_id:
            raise VerificationError("signature_missing", f"{opts.id_header} header is missing")
        signed = render(opts.signed_string, req.body, raw_ts, msg_id)
        if not any_match(sigs, (mac(opts.algorithm, k, signed) for k in self.keys)):
            raise VerificationError("signature_mismatch", f"{opts.header} does not match the body")
        return Verified(scheme=SCHEME, delivery_id=msg_id or None, signature=value, timestamp=ts)


def build(options: Options, secrets: Sequence[Secret]) -> Verifier:
    keys = [s.encode() for s in require_secrets(SCHEME, secrets)]
    return HmacVerifier(options=options, keys=keys)


def sign(
    options: Options, secret: Secret, body: bytes, now: float, *, delivery_id: str | None = None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    ts = str(int(now))
    if options.timestamp_header:
        headers[options.timestamp_header] = ts
    msg_id = delivery_id
    if options.id_header:
        msg_id = msg_id or str(uuid.uuid4())
        headers[options.id_header] = msg_id
    digest = mac(options.algorithm, secret.encode(), render(options.signed_string, body, ts, msg_id))
    encoded = digest.hex() if options.encoding == "hex" else base64.b64encode(digest).decode()
    headers[options.header] = (options.prefix or "") + encoded
    return headers
