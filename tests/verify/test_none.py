"""The ``none`` scheme accepts anything (the config layer demands ``insecure: true``)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from receiver.secret import Secret
from receiver.verify import none as scheme
from receiver.verify.base import Verified
from tests.verify.support import request, verifier


@pytest.mark.parametrize("hdrs", [{}, {"X-Hub-Signature-256": "sha256=bogus"}])
def test_everything_is_accepted(hdrs: dict[str, str]) -> None:
    assert verifier("none", {}).verify(request(b"anything", hdrs), 0) == Verified(scheme="none")


def test_sign_adds_nothing() -> None:
    assert scheme.sign(scheme.Options(), Secret("x"), b"{}", 0) == {}


def test_takes_no_options() -> None:
    with pytest.raises(ValidationError):
        verifier("none", {"header": "X"})
