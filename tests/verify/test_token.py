"""Plain shared tokens (GitLab style): exact, case-sensitive, never echoed back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from receiver.secret import Secret
from receiver.verify import token as scheme
from tests.verify.support import accept, assert_hidden, reject, request, verifier

TOKEN = "glpat-Shared-Token-1"
OPTIONS = {"header": "X-Gitlab-Token"}


@pytest.mark.parametrize(
    ("secrets", "value"),
    [([TOKEN], TOKEN), (["old-token", TOKEN], TOKEN), ([TOKEN, "new-token"], "new-token")],
)
def test_matching_token_is_accepted(secrets: list[str], value: str) -> None:
    result = accept(verifier("token", OPTIONS, *secrets), request(b"{}", {"X-Gitlab-Token": value}), 0)
    # The token is the secret itself: it must not travel on as a dedupe "signature".
    assert result.signature is None and result.delivery_id is None


@pytest.mark.parametrize(
    ("hdrs", "code"),
    [
        ({}, "signature_missing"),
        ({"X-Gitlab-Token": ""}, "signature_missing"),
        ({"X-Other-Token": TOKEN}, "signature_missing"),
        ({"X-Gitlab-Token": TOKEN.lower()}, "token_mismatch"),
        ({"X-Gitlab-Token": TOKEN + " "}, "token_mismatch"),
        ({"X-Gitlab-Token": TOKEN[:-1]}, "token_mismatch"),
        ({"X-Gitlab-Token": "wrong"}, "token_mismatch"),
        ({"X-Gitlab-Token": "tökén"}, "token_mismatch"),  # non-ASCII must not crash compare_digest
    ],
)
def test_rejections(hdrs: dict[str, str], code: str) -> None:
    err = reject(verifier("token", OPTIONS, TOKEN), request(b"{}", hdrs), 0, code)
    assert_hidden(TOKEN, str(err), repr(err), err.message)


def test_sign_round_trip() -> None:
    opts = scheme.Options(header="X-Gitlab-Token")
    signed = scheme.sign(opts, Secret(TOKEN), b"{}", 0)
    assert signed == {"X-Gitlab-Token": TOKEN}
    accept(scheme.build(opts, [Secret(TOKEN)]), request(b"{}", signed), 0)


def test_repr_hides_token() -> None:
    v = verifier("token", OPTIONS, TOKEN)
    assert_hidden(TOKEN, repr(v))
    assert "X-Gitlab-Token" in repr(v)


def test_header_is_required() -> None:
    with pytest.raises(ValidationError):
        verifier("token", {}, TOKEN)
