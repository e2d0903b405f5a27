from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.errors import DeliveryError
from receiver.secret import Secret
from receiver.sinks import SINKS
from receiver.sinks.base import (
    REDACTED,
    DeliveryOptions,
    Redactor,
    excerpt,
    parse_action,
    redact_headers,
    redact_params,
    redact_url,
)
from receiver.sinks.github_status import GitHubStatusAction


@pytest.mark.parametrize(
    ("name", "value", "hidden"),
    [
        ("Authorization", "Bearer abc", True),
        ("authorization", "token abc", True),
        ("X-Api-Key", "k1", True),
        ("x-bug0-service-token", "t", True),
        ("Cookie", "a=b", True),
        ("Set-Cookie", "a=b", True),
        ("X-Hub-Signature-256", "sha256=00", True),
        ("Content-Type", "application/json", False),
        ("Idempotency-Key", "dlv_1", False),  # a bare "key" is no credential; api-key style names are
        ("Accept", "*/*", False),
    ],
)
def test_redact_headers(name: str, value: str, hidden: bool) -> None:
    out = redact_headers({name: value})
    assert out[name] == (REDACTED if hidden else value)


def test_redact_headers_extra_names_and_secret_values() -> None:
    out = redact_headers({"X-Custom": "plain", "X-Other": Secret("s3cr3t")}, secret_names=["x-custom"])
    assert out == {"X-Custom": REDACTED, "X-Other": REDACTED}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.com/v1/x?page=2", "https://api.example.com/v1/x?page=2"),
        ("https://u:pw@host.example/p", f"https://u:{REDACTED}@host.example/p"),
        ("https://tok@host.example/p", f"https://{REDACTED}@host.example/p"),
        ("https://h.example/p?token=abc&x=1", f"https://h.example/p?token={REDACTED}&x=1"),
        ("https://h.example/p?api_key=abc", f"https://h.example/p?api_key={REDACTED}"),
        ("https://h.example/p?access_token=abc#frag", f"https://h.example/p?access_token={REDACTED}"),
        ("https://hooks.slack.com/services/T0/B0/XXXX", f"https://hooks.slack.com/services/{REDACTED}"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redactor_replaces_every_known_value_and_skips_tiny_ones() -> None:
    r = Redactor([Secret("supersecret"), "tok-123", "ab"])
    assert r("got supersecret and tok-123, ab stays") == f"got {REDACTED} and {REDACTED}, ab stays"
    assert "supersecret" not in repr(r)


def test_excerpt_bounds_and_redacts() -> None:
    text = "key=supersecret " + "x" * 1000
    out = excerpt(text, Redactor(["supersecret"]), limit=50)
    assert "supersecret" not in out
    assert len(out) == 51 and out.endswith("…")


def test_parse_action_error_names_fields_but_not_values() -> None:
    with pytest.raises(DeliveryError) as info:
        parse_action(GitHubStatusAction, {"state": "ghp_secretvalue", "bogus": "ghp_other"})
    err = info.value
    assert not err.retryable
    assert "state" in err.reason and "bogus" in err.reason
    assert "ghp_" not in err.reason


def test_delivery_options_defaults() -> None:
    opts = DeliveryOptions()
    assert opts.model_dump() == {
        "max_attempts": 8,
        "max_age_seconds": 86400,
        "timeout_seconds": 10,
        "concurrency": 4,
        "rate_per_second": None,
        "burst": 1,
        "breaker_threshold": 5,
        "breaker_cooldown_seconds": 30,
    }


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_every_kind_forbids_unknown_config_and_action_keys(kind: str) -> None:
    spec = SINKS[kind]
    assert spec.kind == kind
    assert issubclass(spec.config, DeliveryOptions)
    with pytest.raises(ValidationError, match="surprise"):
        spec.config.model_validate({"surprise": 1})
    with pytest.raises(ValidationError, match="surprise"):
        spec.action.model_validate({"surprise": 1})


def test_registry_has_the_documented_kinds() -> None:
    assert set(SINKS) == {
        "apprise",
        "github_status",
        "http",
        "fusillade",
        "bug0",
        "fume",
        "nunu",
        "automatedfuture",
    }


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        (
            {"request": {"query": {"api_key": "k1", "page": "2"}, "headers": {"X-Token": "t", "A": "b"}}},
            {"request": {"query": {"api_key": REDACTED, "page": "2"}, "headers": {"X-Token": REDACTED, "A": "b"}}},
        ),
        ({"request": {"path": "/x?token=abc&page=2"}}, {"request": {"path": f"/x?token={REDACTED}&page=2"}}),
        ({"request": {"url": "https://u:pw@h.example/x"}}, {"request": {"url": f"https://u:{REDACTED}@h.example/x"}}),
        ({"target_url": "https://ci.example/run?sig=abc"}, {"target_url": f"https://ci.example/run?sig={REDACTED}"}),
        ({"title": "token=abc", "body": "see https://h/?token=x"}, {"title": "token=abc", "body": "see https://h/?token=x"}),
        ({"request": {"json": {"query": {"password": "p"}}}}, {"request": {"json": {"query": {"password": REDACTED}}}}),
    ],
)
def test_redact_params_hides_credentials_in_what_is_shown(params: dict[str, Any], shown: dict[str, Any]) -> None:
    assert redact_params(params) == shown
