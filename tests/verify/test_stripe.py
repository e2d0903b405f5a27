"""Stripe / Fusillade signatures: published vectors, stripe-python as oracle, every rejection."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from pydantic import ValidationError

from receiver.secret import Secret
from receiver.verify import stripe as scheme
from tests.verify.support import VECTORS, accept, assert_hidden, reject, request, verifier

PY = VECTORS["stripe_python_test_payload"]
COMPACT = VECTORS["stripe_compact"]
ROTATION = VECTORS["stripe_rotation_two_v1_plus_v0"]
T = PY["timestamp"]
GOOD_V1 = PY["header"].split(",")[1]


@pytest.mark.parametrize(
    ("vector", "header_name", "secret"),
    [
        (PY, "Stripe-Signature", PY["secret"]),
        (COMPACT, "Stripe-Signature", COMPACT["secret"]),
        (COMPACT, "X-Fusillade-Signature", COMPACT["secret"]),
        (ROTATION, "Stripe-Signature", ROTATION["secrets_any_of"][0]),
        (ROTATION, "Stripe-Signature", ROTATION["secrets_any_of"][1]),
    ],
)
def test_published_vectors_verify(vector: dict, header_name: str, secret: str) -> None:
    v = verifier("stripe", {"header": header_name}, secret)
    result = accept(v, request(vector["body"], {header_name: vector["header"]}), vector["timestamp"])
    assert result.signature == vector["header"]
    assert result.timestamp == vector["timestamp"]
    assert result.delivery_id is None


def test_rotation_either_configured_secret_works() -> None:
    body = PY["body"]
    for sole in ("whsec_old_secret", PY["secret"]):
        header = scheme.sign(scheme.Options(), Secret(sole), body.encode(), T)["Stripe-Signature"]
        v = verifier("stripe", {}, "whsec_old_secret", PY["secret"])
        assert accept(v, request(body, {"Stripe-Signature": header}), T).timestamp == T


def test_rotation_vector_v0_alone_is_ignored() -> None:
    v0_only = ",".join(i for i in ROTATION["header"].split(",") if not i.startswith("v1="))
    reject(
        verifier("stripe", {}, PY["secret"]),
        request(PY["body"], {"Stripe-Signature": v0_only}),
        T,
        "signature_malformed",
    )


def _with_header(header: str | None) -> dict[str, str]:
    return {} if header is None else {"Stripe-Signature": header}


@pytest.mark.parametrize(
    ("header", "body", "now", "code"),
    [
        (None, PY["body"], T, "signature_missing"),
        ("", PY["body"], T, "signature_missing"),
        ("bad_header", PY["body"], T, "signature_malformed"),
        (
            f"t={T},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
            PY["body"],
            T,
            "signature_malformed",
        ),
        (f"t={T},v1=bad_signature", PY["body"], T, "signature_malformed"),
        (f"t={T},v1={'0' * 64}", PY["body"], T, "signature_mismatch"),
        (f"t={T + 1},{GOOD_V1}", PY["body"], T, "signature_mismatch"),  # timestamp is signed
        (PY["header"], json.dumps(json.loads(PY["body"])), T, "signature_mismatch"),
        (PY["header"], PY["body"][:-1] + "]", T, "signature_mismatch"),
        (PY["header"], PY["body"], T + 301, "timestamp_stale"),
        (PY["header"], PY["body"], T - 301, "timestamp_future"),
        (GOOD_V1, PY["body"], T, "timestamp_missing"),
        (f"t=yesterday,{GOOD_V1}", PY["body"], T, "timestamp_malformed"),
    ],
)
def test_rejections(header: str | None, body: str, now: float, code: str) -> None:
    reject(verifier("stripe", {}, PY["secret"]), request(body, _with_header(header)), now, code)


def test_wrong_secret_is_a_mismatch() -> None:
    v = verifier("stripe", {}, "whsec_someone_else")
    err = reject(v, request(PY["body"], {"Stripe-Signature": PY["header"]}), T, "signature_mismatch")
    assert_hidden("whsec_someone_else", str(err), repr(err), repr(v))


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"{PY['header']},v1=bad_signature", True),
        (f"t={T},v1=bad_signature,{GOOD_V1}", True),
        (f"t={T}, {GOOD_V1}", True),  # a space after the comma, as in Stripe's docs layout
        (f"t={T},{GOOD_V1.upper().replace('V1=', 'v1=')}", True),  # hex case does not matter
        (f"t={T},v1=bad_signature", False),
        (f"t={T},V1={GOOD_V1[3:]}", False),  # scheme names are case-sensitive
    ],
)
def test_extra_items_are_tolerated_but_needed_one_must_match(header: str, ok: bool) -> None:
    v = verifier("stripe", {}, PY["secret"])
    req = request(PY["body"], {"Stripe-Signature": header})
    if ok:
        assert accept(v, req, T).signature == header
    else:
        reject(v, req, T, "signature_malformed")


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_tolerance_edges_are_accepted(offset: int) -> None:
    v = verifier("stripe", {"tolerance_seconds": 300}, PY["secret"])
    assert accept(v, request(PY["body"], {"Stripe-Signature": PY["header"]}), T + offset).timestamp == T


def test_configured_tolerance_is_used() -> None:
    v = verifier("stripe", {"tolerance_seconds": 10}, PY["secret"])
    reject(v, request(PY["body"], {"Stripe-Signature": PY["header"]}), T + 11, "timestamp_stale")


def test_stripe_library_header_verifies_with_us() -> None:
    body = '{"id": "evt_oracle", "object": "event"}'
    header = stripe.WebhookSignature.generate_signature_header(body, "whsec_oracle", timestamp=1712345678)
    v = verifier("stripe", {}, "whsec_oracle")
    assert accept(v, request(body, {"Stripe-Signature": header}), 1712345678).timestamp == 1712345678


def test_our_signature_verifies_with_stripe_library() -> None:
    body = '{"id": "evt_ours", "object": "event"}'
    now = time.time()  # stripe-python checks staleness against the real clock
    headers = scheme.sign(scheme.Options(), Secret("whsec_ours"), body.encode(), now)
    assert stripe.WebhookSignature.verify_header(
        body, headers["Stripe-Signature"], "whsec_ours", tolerance=300
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, headers["Stripe-Signature"], "whsec_other", tolerance=300)


@pytest.mark.parametrize("header_name", ["Stripe-Signature", "X-Fusillade-Signature"])
def test_sign_round_trip_reproduces_the_vector(header_name: str) -> None:
    opts = scheme.Options(header=header_name)
    headers = scheme.sign(opts, Secret(COMPACT["secret"]), COMPACT["body"].encode(), COMPACT["timestamp"])
    assert headers == {header_name: COMPACT["header"]}
    v = scheme.build(opts, [Secret(COMPACT["secret"])])
    assert accept(v, request(COMPACT["body"], headers), COMPACT["timestamp"]).signature == COMPACT["header"]


def test_repr_hides_secret() -> None:
    v = verifier("stripe", {}, "whsec_do_not_print")
    assert_hidden("whsec_do_not_print", repr(v), str(v))
    assert "Stripe-Signature" in repr(v)


@pytest.mark.parametrize(
    "options", [{"tolerance_seconds": 0}, {"tolerance_seconds": -5}, {"algorithm": "sha1"}]
)
def test_bad_options_are_rejected(options: dict) -> None:
    with pytest.raises(ValidationError):
        verifier("stripe", options, "whsec_x")


@pytest.mark.parametrize("secrets", [[], [""]])
def test_missing_secrets_are_rejected(secrets: list[str]) -> None:
    with pytest.raises(ValueError, match="secret"):
        verifier("stripe", {}, *secrets)
