"""Generic HMAC: adnanh/webhook and Shopify vectors, templates, encodings, rejections."""

from __future__ import annotations

import base64
import hashlib
import hmac as stdlib_hmac
import json
from typing import Any

import pytest
from pydantic import ValidationError

from receiver.secret import Secret
from receiver.verify import hmac as scheme
from tests.verify.support import VECTORS, accept, assert_hidden, reject, request, verifier

ADNANH = VECTORS["adnanh_payload_hmac_sha256"]
SHOPIFY = VECTORS["shopify_app_js_test"]
ADNANH_OPTS = {"header": "X-Signature", "algorithm": "sha256", "encoding": "hex", "prefix": "sha256="}
NOW = 1_735_689_600
TIMED = {
    "header": "X-Sig",
    "timestamp_header": "X-Timestamp",
    "id_header": "X-Id",
    "signed_string": "{id}:{timestamp}:{body}",
    "encoding": "base64",
    "algorithm": "sha512",
    "tolerance_seconds": 60,
}


@pytest.mark.parametrize("case", ADNANH["cases"], ids=lambda c: c["header"][:24] or "empty")
def test_adnanh_vectors(case: dict[str, Any]) -> None:
    v = verifier("hmac", ADNANH_OPTS, ADNANH["secret"])
    req = request(case["body"], {"X-Signature": case["header"]})
    if case["valid"]:
        assert accept(v, req, NOW).signature == case["header"]
    else:
        reject(v, req, NOW, "signature_malformed")  # "XXX…" is not hex, so nothing usable


def test_shopify_vector_as_base64_without_prefix() -> None:
    opts = {"header": "X-Shopify-Hmac-Sha256", "encoding": "base64"}
    v = verifier("hmac", opts, SHOPIFY["secret"])
    headers = {"X-Shopify-Hmac-Sha256": SHOPIFY["X-Shopify-Hmac-Sha256"]}
    assert accept(v, request(SHOPIFY["body"], headers), NOW).timestamp is None
    reject(
        v,
        request(json.dumps(json.loads(SHOPIFY["body"]), separators=(",", ":")), headers),
        NOW,
        "signature_mismatch",
    )


def _stdlib(algorithm: str, key: str, message: bytes) -> bytes:
    return stdlib_hmac.new(key.encode(), message, getattr(hashlib, algorithm)).digest()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_algorithms_and_encodings_match_stdlib(algorithm: str, encoding: str) -> None:
    body = b'{"run": 1}'
    digest = _stdlib(algorithm, "k", body)
    value = digest.hex().upper() if encoding == "hex" else base64.b64encode(digest).decode()
    v = verifier("hmac", {"header": "X-Sig", "algorithm": algorithm, "encoding": encoding}, "k")
    accept(v, request(body, {"X-Sig": value}), NOW)  # upper-case hex is the same MAC
    opts = scheme.Options.model_validate({"header": "X-Sig", "algorithm": algorithm, "encoding": encoding})
    signed = scheme.sign(opts, Secret("k"), body, NOW)
    assert signed["X-Sig"].lower() == value.lower()


def test_template_with_timestamp_and_id_matches_stdlib() -> None:
    body = b'{"event": "test.completed"}'
    mac = base64.b64encode(_stdlib("sha512", "k", b"d-42:%d:" % NOW + body)).decode()
    headers = {"X-Sig": mac, "X-Timestamp": str(NOW), "X-Id": "d-42"}
    result = accept(verifier("hmac", TIMED, "k"), request(body, headers), NOW + 60)
    assert (result.delivery_id, result.timestamp, result.signature) == ("d-42", NOW, mac)


def _timed_headers(changes: dict[str, str | None] | None = None) -> dict[str, str]:
    """Valid signed headers for TIMED, with some replaced (None removes the header)."""
    signed = scheme.sign(scheme.Options.model_validate(TIMED), Secret("k"), b"{}", NOW, delivery_id="d-1")
    for name, value in (changes or {}).items():
        if value is None:
            del signed[name]
        else:
            signed[name] = value
    return signed


@pytest.mark.parametrize(
    ("hdrs", "body", "now", "code"),
    [
        ({"X-Timestamp": str(NOW), "X-Id": "d-1"}, b"{}", NOW, "signature_missing"),
        (_timed_headers({"X-Sig": "###"}), b"{}", NOW, "signature_malformed"),
        (_timed_headers({"X-Sig": base64.b64encode(b"x" * 32).decode()}), b"{}", NOW, "signature_malformed"),
        (_timed_headers({"X-Sig": base64.b64encode(b"x" * 64).decode()}), b"{}", NOW, "signature_mismatch"),
        (_timed_headers({"X-Timestamp": None}), b"{}", NOW, "timestamp_missing"),
        (_timed_headers({"X-Timestamp": "later"}), b"{}", NOW, "timestamp_malformed"),
        (_timed_headers(), b"{}", NOW + 61, "timestamp_stale"),
        (_timed_headers(), b"{}", NOW - 61, "timestamp_future"),
        (_timed_headers({"X-Id": None}), b"{}", NOW, "signature_missing"),
        (_timed_headers({"X-Id": "d-2"}), b"{}", NOW, "signature_mismatch"),
        (_timed_headers({"X-Timestamp": str(NOW + 1)}), b"{}", NOW, "signature_mismatch"),
        (_timed_headers(), b"{ }", NOW, "signature_mismatch"),
    ],
)
def test_rejections(hdrs: dict[str, str], body: bytes, now: float, code: str) -> None:
    reject(verifier("hmac", TIMED, "k"), request(body, hdrs), now, code)


def test_timed_headers_helper_is_valid_as_is() -> None:
    assert accept(verifier("hmac", TIMED, "k"), request(b"{}", _timed_headers()), NOW).delivery_id == "d-1"


def test_wrong_secret_and_rotation() -> None:
    case = ADNANH["cases"][1]
    req = request(case["body"], {"X-Signature": case["header"]})
    err = reject(verifier("hmac", ADNANH_OPTS, "guess"), req, NOW, "signature_mismatch")
    assert_hidden("guess", str(err), repr(err))
    for secrets in (("old", ADNANH["secret"]), (ADNANH["secret"], "new")):
        accept(verifier("hmac", ADNANH_OPTS, *secrets), req, NOW)


def test_sign_round_trip_with_prefix_and_generated_id() -> None:
    opts = scheme.Options.model_validate({**ADNANH_OPTS, "id_header": "X-Delivery"})
    signed = scheme.sign(opts, Secret("secret"), b"", NOW)
    assert signed["X-Signature"] == "sha256=" + ADNANH["cases"][3]["header"]
    assert len(signed["X-Delivery"]) == 36  # a fresh UUID when none was given
    assert (
        accept(scheme.build(opts, [Secret("secret")]), request(b"", signed), NOW).delivery_id
        == (signed["X-Delivery"])
    )


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "header"),
        ({"header": ""}, "header"),
        ({"header": "X", "algorithm": "md5"}, "algorithm"),
        ({"header": "X", "encoding": "base32"}, "encoding"),
        ({"header": "X", "signed_string": "{timestamp}"}, "must contain {body}"),
        ({"header": "X", "signed_string": "{ts}.{body}"}, "unknown placeholder"),
        ({"header": "X", "signed_string": "{timestamp}.{body}"}, "timestamp_header"),
        ({"header": "X", "signed_string": "{id}.{body}"}, "id_header"),
        ({"header": "X", "tolerance_seconds": 0}, "tolerance_seconds"),
        ({"header": "X", "hash": "sha256"}, "hash"),
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        verifier("hmac", options, "k")


def test_repr_hides_secret() -> None:
    v = verifier("hmac", TIMED, "generic-secret-value")
    assert_hidden("generic-secret-value", repr(v))
    assert "X-Sig" in repr(v)
