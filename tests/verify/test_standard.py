"""Standard Webhooks / Svix: published v1 and v1a vectors, the reference libraries as
oracles in both directions, secret formats, and every rejection."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks
import svix.webhooks
from pydantic import ValidationError

from receiver.secret import Secret
from receiver.verify import standard as scheme
from tests.verify.support import VECTORS, accept, assert_hidden, reject, request, verifier

V1 = VECTORS["standard_webhooks_v1"]
V1A = VECTORS["standard_webhooks_v1a_ed25519"]
T = V1["timestamp"]
BODY = V1["body"]
SIG = V1["webhook-signature"]
MULTI_SIG = (
    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)  # protocols.md §1.4 multi_sig_must_pass
UNPADDED = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr"]


def wh(
    sig: str = SIG, prefix: str = "webhook-", ts: str = str(T), msg_id: str = V1["msg_id"]
) -> dict[str, str]:
    return {f"{prefix}id": msg_id, f"{prefix}timestamp": ts, f"{prefix}signature": sig}


@pytest.fixture
def frozen_reference_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference libraries read the wall clock; pin it to the vectors' timestamp."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(T, tz=tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", Frozen)


@pytest.mark.parametrize(
    ("secrets", "headers"),
    [
        ([V1["secret"]], wh()),
        ([V1["secret"]], wh(prefix="svix-")),
        ([V1["secret"]], wh(MULTI_SIG)),
        ([V1["secret"]], wh(f"v1a,{'A' * 86}== {SIG}")),  # a v1a entry with no ed25519 key is skipped
        ([V1["secret"]], {**wh(prefix="svix-"), **wh("v1,garbage", msg_id="other")}),  # svix- first
        (["whsec_" + base64.b64encode(b"k" * 32).decode(), V1["secret"]], wh()),  # rotation
        ([V1A["public_key"]], wh(V1A["webhook-signature"])),
        ([V1A["secret_key"]], wh(V1A["webhook-signature"])),
        ([V1A["public_key"], V1["secret"]], wh(f"{SIG} {V1A['webhook-signature']}")),
        ([V1A["public_key"], V1["secret"]], wh(f"v1,{'A' * 43}= {V1A['webhook-signature']}")),
        ([V1["secret"]], wh("v1 v1,!!!notb64 " + SIG)),  # malformed entries do not hide a good one
    ],
)
def test_published_vectors_verify(secrets: list[str], headers: dict[str, str]) -> None:
    result = accept(verifier("standard", {}, *secrets), request(BODY, headers), T)
    assert result.delivery_id == V1["msg_id"]
    assert result.timestamp == T
    assert result.signature == headers.get("svix-signature", headers.get("webhook-signature"))


def _drop(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


@pytest.mark.parametrize(
    ("secrets", "headers", "body", "now", "code"),
    [
        ([V1["secret"]], _drop(wh(), "webhook-signature"), BODY, T, "signature_missing"),
        ([V1["secret"]], wh(""), BODY, T, "signature_missing"),
        ([V1["secret"]], _drop(wh(), "webhook-id"), BODY, T, "signature_missing"),
        ([V1["secret"]], _drop(wh(), "webhook-timestamp"), BODY, T, "timestamp_missing"),
        ([V1["secret"]], wh(ts="soon"), BODY, T, "timestamp_malformed"),
        ([V1["secret"]], wh(), BODY, T + 301, "timestamp_stale"),
        ([V1["secret"]], wh(), BODY, T - 301, "timestamp_future"),
        ([V1["secret"]], wh(V1["near_miss_invalid"]), BODY, T, "signature_mismatch"),
        ([V1["secret"]], wh(msg_id="msg_other"), BODY, T, "signature_mismatch"),
        ([V1["secret"]], wh(ts=str(T + 1)), BODY, T, "signature_mismatch"),
        ([V1["secret"]], wh(), BODY.replace("4", "5", 1), T, "signature_mismatch"),
        ([V1["secret"]], wh(), json.dumps(json.loads(BODY), separators=(",", ":")), T, "signature_mismatch"),
        (["whsec_" + base64.b64encode(b"k" * 32).decode()], wh(), BODY, T, "signature_mismatch"),
        ([V1["secret"]], wh("v1"), BODY, T, "signature_malformed"),
        ([V1["secret"]], wh("garbage"), BODY, T, "signature_malformed"),
        ([V1["secret"]], wh("v1,!!!notb64"), BODY, T, "signature_malformed"),
        ([V1["secret"]], wh("v1,AAAA"), BODY, T, "signature_malformed"),  # not 32 bytes
        ([V1["secret"]], wh(SIG.replace("v1,", "v2,")), BODY, T, "signature_malformed"),
        ([V1["secret"]], wh(V1A["webhook-signature"]), BODY, T, "signature_malformed"),
        ([V1A["public_key"]], wh(SIG), BODY, T, "signature_malformed"),  # only v1a keys configured
        ([V1A["public_key"]], wh(V1A["webhook-signature"]), BODY + " ", T, "signature_mismatch"),
        ([V1A["public_key"]], wh(V1A["webhook-signature"], msg_id="msg_x"), BODY, T, "signature_mismatch"),
    ],
)
def test_rejections(secrets: list[str], headers: dict[str, str], body: str, now: float, code: str) -> None:
    err = reject(verifier("standard", {}, *secrets), request(body, headers), now, code)
    for secret in secrets:
        assert_hidden(secret, str(err), repr(err))


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_tolerance_is_symmetric_and_inclusive(offset: int) -> None:
    assert accept(verifier("standard", {}, V1["secret"]), request(BODY, wh()), T + offset).timestamp == T


def test_configured_tolerance_is_used() -> None:
    v = verifier("standard", {"tolerance_seconds": 60}, V1["secret"])
    reject(v, request(BODY, wh()), T - 61, "timestamp_future")


@pytest.mark.parametrize("secret", UNPADDED)
def test_unpadded_secrets_match_the_reference_library(secret: str) -> None:
    reference = standardwebhooks.webhooks.Webhook(secret)
    sig = reference.sign(V1["msg_id"], datetime.fromtimestamp(T, tz=UTC), BODY)
    assert accept(verifier("standard", {}, secret), request(BODY, wh(sig)), T).delivery_id == V1["msg_id"]
    ours = scheme.sign(scheme.Options(), Secret(secret), BODY.encode(), T, delivery_id=V1["msg_id"])
    assert ours["webhook-signature"] == sig


@pytest.mark.parametrize(
    ("secret", "vector"),
    [(V1["secret"], SIG), (V1A["secret_key"], V1A["webhook-signature"])],
)
def test_sign_reproduces_the_published_vectors(secret: str, vector: str) -> None:
    headers = scheme.sign(scheme.Options(), Secret(secret), BODY.encode(), T, delivery_id=V1["msg_id"])
    assert headers == wh(vector)  # Ed25519 is deterministic, so v1a reproduces exactly too


def test_sign_without_delivery_id_makes_one() -> None:
    headers = scheme.sign(scheme.Options(), Secret(V1["secret"]), b"{}", T)
    assert headers["webhook-id"].startswith("msg_") and len(headers["webhook-id"]) > 10
    assert (
        accept(verifier("standard", {}, V1["secret"]), request(b"{}", headers), T).delivery_id
        == (headers["webhook-id"])
    )


def test_public_key_cannot_sign() -> None:
    with pytest.raises(ValueError, match="whsk_") as info:
        scheme.sign(scheme.Options(), Secret(V1A["public_key"]), b"{}", T)
    assert_hidden(V1A["public_key"], str(info.value))


def test_reference_library_signature_verifies_with_us() -> None:
    body = '{"type": "test.completed", "id": 7}'
    stamp = datetime.fromtimestamp(T + 42, tz=UTC)
    std = standardwebhooks.webhooks.Webhook(V1["secret"]).sign("msg_std", stamp, body)
    sv = svix.webhooks.Webhook(V1["secret"]).sign("msg_svix", stamp, body)
    v = verifier("standard", {}, V1["secret"])
    assert accept(v, request(body, wh(std, msg_id="msg_std", ts=str(T + 42))), T).delivery_id == "msg_std"
    svix_headers = wh(sv, prefix="svix-", msg_id="msg_svix", ts=str(T + 42))
    assert accept(v, request(body, svix_headers), T).delivery_id == "msg_svix"


@pytest.mark.usefixtures("frozen_reference_clock")
@pytest.mark.parametrize("prefix", ["webhook-", "svix-"])
def test_our_signature_verifies_with_reference_libraries(prefix: str) -> None:
    body = '{"type": "test.failed"}'
    ours = scheme.sign(scheme.Options(), Secret(V1["secret"]), body.encode(), T + 10, delivery_id="msg_ours")
    headers = {k.replace("webhook-", prefix): v for k, v in ours.items()}
    svix.webhooks.Webhook(V1["secret"]).verify(body, headers)  # raises on failure
    assert standardwebhooks.webhooks.Webhook(V1["secret"]).verify(body, ours) == json.loads(body)
    tampered = {**headers, f"{prefix}id": "msg_other"}
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(V1["secret"]).verify(body, tampered)


@pytest.mark.usefixtures("frozen_reference_clock")
def test_reference_library_accepts_the_published_vector_under_a_frozen_clock() -> None:
    # Guards the clock fixture itself: the same vector we accept, the reference accepts.
    svix.webhooks.Webhook(V1["secret"]).verify(BODY, wh(prefix="svix-"))


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_",
        "whsec_!!not-base64!!",
        "whsec_A",  # impossible base64 length
        "whpk_" + base64.b64encode(b"\x01" * 31).decode(),
        "whsk_" + base64.b64encode(b"\x01" * 32).decode(),  # seed only, no public half
        "whsk_" + base64.b64encode(b"\x01" * 64).decode(),  # public half does not match the seed
        "sk_live_whatever",
    ],
)
def test_invalid_secrets_are_rejected_without_showing_them(secret: str) -> None:
    with pytest.raises(ValueError) as info:
        verifier("standard", {}, V1["secret"], secret)
    assert "#2" in str(info.value)
    if secret != "whsec_":  # a bare prefix is no secret, and the message names the expected format
        assert_hidden(secret, str(info.value))


def test_repr_hides_secrets() -> None:
    v = verifier("standard", {}, V1["secret"], V1A["secret_key"])
    assert_hidden(V1["secret"], repr(v))
    assert_hidden(V1A["secret_key"], repr(v))
    assert "standard" in repr(v)


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ValidationError):
        verifier("standard", {"header": "webhook-signature"}, V1["secret"])
