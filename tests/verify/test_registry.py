"""The scheme registry: every scheme goes through the same door, signs what it verifies,
and keeps its secrets out of reprs and error messages."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.errors import VerificationError
from receiver.secret import Secret
from receiver.verify import SCHEMES, build_verifier
from tests.verify.support import accept, assert_hidden, reject, request

NOW = 1_700_000_000
BODY = b'{"type": "test.completed", "id": "run_1"}'

WHSK = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
TIMED_HMAC = {"header": "X-Sig", "timestamp_header": "X-Ts", "signed_string": "{timestamp}.{body}"}

# (scheme, options, a secret that scheme can sign with, an older secret configured beside it)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("stripe", {}, "whsec_registry_stripe", "whsec_registry_old"),
    ("stripe", {"header": "X-Fusillade-Signature"}, "fusillade-registry-secret", "fusillade-old"),
    ("github", {}, "registry github secret", "old github secret"),
    ("github", {"algorithm": "sha1"}, "registry github sha1 secret", "old sha1 secret"),
    ("standard", {}, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZA"),
    ("standard", {}, WHSK, "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZA"),
    ("slack", {}, "8f742231b10e8888abcd99yyyzzz85a5", "0ld5ecret"),
    ("hmac", {"header": "X-Signature", "prefix": "sha256="}, "registry-hmac-secret", "old-hmac"),
    ("hmac", TIMED_HMAC, "hmac-ts-secret", "old-hmac-ts"),
    ("token", {"header": "X-Token"}, "registry-token-value", "old-token-value"),
]


def _id(value: object) -> str:
    return value if isinstance(value, str) and not value.startswith(("wh", "8f")) else ""


def test_registry_lists_every_scheme() -> None:
    assert set(SCHEMES) == {"stripe", "github", "standard", "slack", "hmac", "token", "none"}
    for name, spec in SCHEMES.items():
        assert spec.name == name
        assert spec.options.model_config.get("extra") == "forbid"


@pytest.mark.parametrize(("scheme", "options", "secret", "old"), CASES, ids=_id)
def test_sign_then_verify_round_trip(scheme: str, options: dict[str, Any], secret: str, old: str) -> None:
    spec = SCHEMES[scheme]
    headers = spec.sign(spec.options.model_validate(options), Secret(secret), BODY, NOW, delivery_id="dlv-1")
    verifier = build_verifier(scheme, options, [Secret(old), Secret(secret)])
    result = accept(verifier, request(BODY, headers), NOW)
    assert result.scheme == scheme
    if scheme == "standard":
        assert result.delivery_id == "dlv-1"
    assert_hidden(secret, repr(verifier), str(verifier))
    assert_hidden(old, repr(verifier), str(verifier))
    if scheme == "token":  # the token header *is* the secret: checked, never carried on
        assert result.signature is None
    else:
        assert result.signature is not None and result.signature in headers.values()
        assert_hidden(secret, *headers.values())
        err = reject(verifier, request(BODY + b" ", headers), NOW, "signature_mismatch")
        assert_hidden(secret, str(err), repr(err), err.message)


@pytest.mark.parametrize(("scheme", "options", "secret", "old"), CASES, ids=_id)
def test_every_error_hides_the_secret(scheme: str, options: dict[str, Any], secret: str, old: str) -> None:
    verifier = build_verifier(scheme, options, [Secret(old), Secret(secret)])
    for headers in ({}, {h: "garbage" for h in ("stripe-signature", "x-hub-signature-256", "x-token")}):
        with pytest.raises(VerificationError) as info:
            verifier.verify(request(BODY, headers), NOW)
        assert_hidden(secret, str(info.value), repr(info.value))
        assert_hidden(old, str(info.value), repr(info.value))


def test_none_round_trip() -> None:
    spec = SCHEMES["none"]
    assert spec.sign(spec.options(), Secret("x"), BODY, NOW) == {}
    assert build_verifier("none", {}, []).verify(request(BODY, {}), NOW).scheme == "none"


def test_unknown_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"unknown verify scheme 'hmac256'.*stripe"):
        build_verifier("hmac256", {}, [Secret("x")])


@pytest.mark.parametrize(
    ("scheme", "options"),
    [("stripe", {"tolerance": 300}), ("hmac", {}), ("token", {"header": 5}), ("slack", {"header": "X"})],
)
def test_invalid_options_raise_validation_error(scheme: str, options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        build_verifier(scheme, options, [Secret("x")])


@pytest.mark.parametrize("scheme", ["stripe", "github", "standard", "slack", "hmac", "token"])
def test_schemes_that_sign_need_a_secret(scheme: str) -> None:
    options = {"header": "X-Sig"} if scheme in ("hmac", "token") else {}
    with pytest.raises(ValueError, match="at least one secret"):
        build_verifier(scheme, options, [])
