"""Slack request signing: the docs' worked example, its clock cases, every rejection."""

from __future__ import annotations

import pytest

from receiver.secret import Secret
from receiver.verify import slack as scheme
from tests.verify.support import VECTORS, accept, assert_hidden, reject, request, verifier

SL = VECTORS["slack_docs"]
SECRET = SL["signing_secret"]
TS = int(SL["X-Slack-Request-Timestamp"])
SIG = SL["X-Slack-Signature"]
BODY = SL["body"]


def headers(sig: str | None = SIG, ts: str | None = str(TS)) -> dict[str, str]:
    out = {}
    if sig is not None:
        out["X-Slack-Signature"] = sig
    if ts is not None:
        out["X-Slack-Request-Timestamp"] = ts
    return out


@pytest.mark.parametrize(
    ("now", "ok"),
    [(TS, True), (TS + 300, True), (TS - 300, True), (TS + 301, False), (TS - 301, False)],
)
def test_docs_vector_and_clock_cases(now: int, ok: bool) -> None:
    v = verifier("slack", {}, SECRET)
    if ok:
        result = accept(v, request(BODY, headers()), now)
        assert (result.signature, result.timestamp, result.delivery_id) == (SIG, TS, None)
    else:
        reject(v, request(BODY, headers()), now, "timestamp_stale" if now > TS else "timestamp_future")


@pytest.mark.parametrize(
    ("hdrs", "body", "code"),
    [
        (headers(sig=None), BODY, "signature_missing"),
        (headers(sig="bad_header"), BODY, "signature_malformed"),
        (headers(sig=SIG.replace("v0=", "v1=")), BODY, "signature_malformed"),
        (headers(sig="v0=bad_signature"), BODY, "signature_malformed"),
        (headers(sig="v0=" + "0" * 64), BODY, "signature_mismatch"),
        (headers(ts=None), BODY, "timestamp_missing"),
        (headers(ts="noon"), BODY, "timestamp_malformed"),
        (headers(ts=str(TS + 1)), BODY, "signature_mismatch"),  # the timestamp is signed
        (headers(), BODY.replace("text=&", "text=x&"), "signature_mismatch"),
        (headers(), BODY.replace("%2F", "/"), "signature_mismatch"),  # re-encoded form data
    ],
)
def test_rejections(hdrs: dict[str, str], body: str, code: str) -> None:
    reject(verifier("slack", {}, SECRET), request(body, hdrs), TS + 1, code)


def test_wrong_secret_and_rotation() -> None:
    err = reject(verifier("slack", {}, "not-the-secret"), request(BODY, headers()), TS, "signature_mismatch")
    assert_hidden("not-the-secret", str(err), repr(err))
    for secrets in (("old-secret", SECRET), (SECRET, "new-secret")):
        accept(verifier("slack", {}, *secrets), request(BODY, headers()), TS)


def test_configured_tolerance_is_used() -> None:
    reject(
        verifier("slack", {"tolerance_seconds": 30}, SECRET),
        request(BODY, headers()),
        TS + 31,
        "timestamp_stale",
    )


def test_sign_round_trip_reproduces_the_vector() -> None:
    signed = scheme.sign(scheme.Options(), Secret(SECRET), BODY.encode(), TS)
    assert signed == headers()
    accept(scheme.build(scheme.Options(), [Secret(SECRET)]), request(BODY, signed), TS)


def test_repr_hides_secret() -> None:
    v = verifier("slack", {}, SECRET)
    assert_hidden(SECRET, repr(v))
    assert "slack" in repr(v)
