"""The registry, the published schema, and every payload file through every adapter."""

from __future__ import annotations

import json

import pytest

from receiver.sources import ADAPTERS, fields
from receiver.sources.base import NoOptions
from tests.sources.helpers import PAYLOADS, SCHEMA_PATH, envelope_for

KINDS = ["fusillade", "automatedfuture", "nunu", "bug0", "fume", "github", "generic"]


def test_all_kinds_are_registered() -> None:
    assert sorted(ADAPTERS) == sorted(KINDS)
    for kind, spec in ADAPTERS.items():
        assert spec.kind == kind
        assert spec.options is not NoOptions  # every kind takes a normalize: block
        assert spec.create(None).kind == kind


@pytest.mark.parametrize(
    ("kind", "verify", "delivery_header"),
    [
        ("fusillade", {"scheme": "stripe", "header": "X-Fusillade-Signature"}, None),
        ("github", {"scheme": "github"}, "X-GitHub-Delivery"),
        ("automatedfuture", None, None),
        ("nunu", None, None),
        ("bug0", None, None),
        ("fume", None, None),
        ("generic", None, None),
    ],
)
def test_spec_defaults(kind: str, verify: dict[str, str] | None, delivery_header: str | None) -> None:
    assert ADAPTERS[kind].default_verify == verify
    assert ADAPTERS[kind].delivery_id_header == delivery_header


def test_schema_sections_match_the_field_table() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    for name, keys in fields.SECTIONS.items():
        section = schema["$defs"][name]
        assert list(section["properties"]) == list(keys), name
        assert section["required"] == list(keys)
        assert (section["additionalProperties"] is False) == (name not in fields.OPEN_SECTIONS)
    assert set(schema["properties"]["data"]["properties"]) == {*fields.SECTIONS, "thresholds", "response"}


ALL_FILES = sorted(p.relative_to(PAYLOADS) for p in PAYLOADS.rglob("*.json"))
GITHUB_EVENTS = ["push", "pull_request", "ping", "workflow_run"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", ALL_FILES, ids=str)
def test_any_body_gives_a_valid_envelope(kind: str, path: object) -> None:
    """No adapter raises or produces an envelope outside the schema, whatever it is sent."""
    body = (PAYLOADS / str(path)).read_bytes()
    for event in GITHUB_EVENTS if kind == "github" else [None]:
        n, env = envelope_for(kind, body, headers={"X-GitHub-Event": event} if event else None)
        assert not (n.normalize_error or "").startswith("adapter error"), n.normalize_error
        assert env["platform"] == kind
        if env["type"].endswith(".unknown"):
            assert env["normalize_error"]
