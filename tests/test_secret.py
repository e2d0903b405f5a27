"""Which headers are secret (receiver.secret): one definition for ingest, emit, templates and redaction."""

from __future__ import annotations

import pytest

from receiver.secret import is_credential_header, is_sensitive_header, stored_headers, template_headers


@pytest.mark.parametrize(
    ("name", "credential", "sensitive"),
    [
        ("Authorization", True, True),
        ("Proxy-Authorization", True, True),
        ("Cookie", True, True),
        ("set-cookie", True, True),
        ("X-Api-Key", True, True),
        ("x-api_key", True, True),
        ("X-Gitlab-Token", True, True),
        ("x-bug0-service-token", True, True),
        ("X-Webhook-Secret", True, True),
        ("X-Password", True, True),
        ("X-Session-Id", True, True),
        # A MAC of one body: kept with the stored event, hidden from templates and redacted in outbound params.
        ("X-Fusillade-Signature", False, True),
        ("X-Hub-Signature-256", False, True),
        ("webhook-signature", False, True),
        ("Content-Type", False, False),
        ("X-GitHub-Event", False, False),
        ("X-GitHub-Delivery", False, False),
        ("Idempotency-Key", False, False),  # a bare "key" is no credential; api-key style names are
        ("webhook-id", False, False),
    ],
)
def test_which_headers_are_secret(name: str, credential: bool, sensitive: bool) -> None:
    assert (is_credential_header(name), is_sensitive_header(name)) == (credential, sensitive)


HEADERS = {
    "authorization": "Bearer s3cr3t",
    "x-api-key": "k3y",
    "x-hook-key": "custom-token-header-value",
    "x-fusillade-signature": "t=1,v1=ab",
    "x-github-event": "push",
}


def test_stored_headers_drop_credentials_and_the_sources_own_names() -> None:
    assert stored_headers(HEADERS, frozenset({"x-hook-key"})) == {
        "x-fusillade-signature": "t=1,v1=ab",
        "x-github-event": "push",
    }


def test_template_headers_drop_credentials_and_signatures() -> None:
    assert template_headers(HEADERS) == {"x-hook-key": "custom-token-header-value", "x-github-event": "push"}
