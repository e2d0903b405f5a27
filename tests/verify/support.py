"""Shared helpers for the verification tests: the published vectors and request builders."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify import build_verifier
from receiver.verify.base import RawRequest, Verified, Verifier

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "testdata" / "protocols-vectors.json").read_text("utf-8")
)


def request(body: bytes | str, headers: Mapping[str, str]) -> RawRequest:
    """A request as the HTTP layer hands it over: raw bytes, lower-cased header names."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return RawRequest(body=raw, headers={k.lower(): v for k, v in headers.items()})


def verifier(scheme: str, options: Mapping[str, Any], *secrets: str) -> Verifier:
    return build_verifier(scheme, options, [Secret(s) for s in secrets])


def accept(v: Verifier, req: RawRequest, now: float) -> Verified:
    result = v.verify(req, now)
    assert result.scheme == v.scheme
    return result


def reject(v: Verifier, req: RawRequest, now: float, code: str) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        v.verify(req, now)
    assert info.value.code == code, info.value.message
    assert info.value.status == 401
    return info.value


def assert_hidden(secret: str, *texts: str) -> None:
    """The secret (and its tail, for prefixed secrets) appears in none of the texts."""
    for text in texts:
        assert secret not in text
        tail = secret.split("_", 1)[1] if "_" in secret else ""
        if tail:
            assert tail not in text
