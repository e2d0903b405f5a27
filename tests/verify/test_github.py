"""GitHub signatures: the docs vector, sha1 only when configured, every rejection."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from receiver.secret import Secret
from receiver.verify import github as scheme
from tests.verify.support import VECTORS, accept, assert_hidden, reject, request, verifier

GH = VECTORS["github_docs"]
SHA256 = GH["X-Hub-Signature-256"]
SHA1 = GH["X-Hub-Signature"]
NOW = 1_700_000_000.0  # GitHub signs no timestamp: any clock works


@pytest.mark.parametrize(
    ("options", "headers"),
    [
        ({}, {"X-Hub-Signature-256": SHA256}),
        ({"algorithm": "sha256"}, {"X-Hub-Signature-256": SHA256, "X-Hub-Signature": "sha1=" + "0" * 40}),
        ({"algorithm": "sha1"}, {"X-Hub-Signature": SHA1}),
        ({"algorithm": "sha1"}, {"X-Hub-Signature": SHA1, "X-Hub-Signature-256": "sha256=" + "0" * 64}),
        ({"header": "X-Gitea-Signature-Copy"}, {"X-Gitea-Signature-Copy": SHA256}),
    ],
)
def test_docs_vector_verifies(options: dict, headers: dict[str, str]) -> None:
    result = accept(verifier("github", options, GH["secret"]), request(GH["body"], headers), NOW)
    assert result.signature in (SHA256, SHA1)
    assert result.delivery_id is None and result.timestamp is None


@pytest.mark.parametrize(
    ("options", "headers", "body", "code"),
    [
        ({}, {}, GH["body"], "signature_missing"),
        ({}, {"X-Hub-Signature": SHA1}, GH["body"], "signature_missing"),  # sha1 is never a fallback
        ({}, {"X-Hub-Signature-256": SHA1}, GH["body"], "signature_malformed"),
        ({}, {"X-Hub-Signature-256": SHA256.removeprefix("sha256=")}, GH["body"], "signature_malformed"),
        ({}, {"X-Hub-Signature-256": "sha256=bad_signature"}, GH["body"], "signature_malformed"),
        ({}, {"X-Hub-Signature-256": "bad_header"}, GH["body"], "signature_malformed"),
        ({}, {"X-Hub-Signature-256": "sha256=" + "ab" * 32}, GH["body"], "signature_mismatch"),
        ({}, {"X-Hub-Signature-256": SHA256}, "Hello, World?", "signature_mismatch"),
        ({}, {"X-Hub-Signature-256": SHA256}, GH["body"] + "\n", "signature_mismatch"),
        ({"algorithm": "sha1"}, {"X-Hub-Signature-256": SHA256}, GH["body"], "signature_missing"),
        ({"algorithm": "sha1"}, {"X-Hub-Signature": "sha256=" + SHA1[5:]}, GH["body"], "signature_malformed"),
    ],
)
def test_rejections(options: dict, headers: dict[str, str], body: str, code: str) -> None:
    reject(verifier("github", options, GH["secret"]), request(body, headers), NOW, code)


def test_reserialized_json_fails() -> None:
    body = '{"action":  "opened", "number": 1}'
    headers = scheme.sign(scheme.Options(), Secret("s3cret"), body.encode(), NOW)
    v = verifier("github", {}, "s3cret")
    accept(v, request(body, headers), NOW)
    reject(v, request(json.dumps(json.loads(body)), headers), NOW, "signature_mismatch")


def test_wrong_secret_and_rotation() -> None:
    headers = {"X-Hub-Signature-256": SHA256}
    err = reject(verifier("github", {}, "not it"), request(GH["body"], headers), NOW, "signature_mismatch")
    assert_hidden("not it", str(err), repr(err))
    for secrets in (("old", GH["secret"]), (GH["secret"], "new")):
        accept(verifier("github", {}, *secrets), request(GH["body"], headers), NOW)


@pytest.mark.parametrize("algorithm", ["sha256", "sha1"])
def test_sign_round_trip_reproduces_the_vector(algorithm: str) -> None:
    opts = scheme.Options.model_validate({"algorithm": algorithm})
    headers = scheme.sign(opts, Secret(GH["secret"]), GH["body"].encode(), NOW, delivery_id="d-1")
    expected = SHA256 if algorithm == "sha256" else SHA1
    assert headers == {opts.header_name: expected, "X-GitHub-Delivery": "d-1"}
    accept(scheme.build(opts, [Secret(GH["secret"])]), request(GH["body"], headers), NOW)


def test_repr_hides_secret() -> None:
    v = verifier("github", {}, GH["secret"])
    assert_hidden(GH["secret"], repr(v))
    assert "X-Hub-Signature-256" in repr(v)


def test_md5_is_not_an_option() -> None:
    with pytest.raises(ValidationError):
        verifier("github", {"algorithm": "md5"}, "x")
