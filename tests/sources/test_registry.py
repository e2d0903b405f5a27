"""The registry, the published schema, and every payload file through every adapter."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.events import build_envelope
from receiver.runs.model import ADDED_KEYS, ADDED_SECTIONS
from receiver.sources import ADAPTERS, fields
from receiver.sources.base import NoOptions
from receiver.verify.base import RawRequest
from tests.sources.helpers import PAYLOADS, SCHEMA_PATH, envelope_for, validator

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
        # Run tracking adds its keys after the adapter's (optional: only run events carry them).
        assert list(section["properties"]) == [*keys, *ADDED_KEYS.get(name, ())], name
        assert section["required"] == list(keys)
        assert (section["additionalProperties"] is False) == (name not in fields.OPEN_SECTIONS)
    # poll: what a run.timed_out event says of the polling that gave up (receiver/polling/engine.py).
    assert set(schema["properties"]["data"]["properties"]) == {*fields.SECTIONS, "thresholds", "response",
                                                               *ADDED_SECTIONS, "poll"}  # fmt: skip


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


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
# Bodies shaped like each platform's, with arbitrary values where the real fields are.
SHAPED = st.fixed_dictionaries(
    {"event": st.sampled_from(["test.completed", "test.threshold_breached", "x"]) | JSON, "data": JSON}
) | st.fixed_dictionaries({"test_run": JSON, "test_result": JSON, "status": JSON, "runId": JSON, "ci": JSON})


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None)
@given(body=JSON | SHAPED)
def test_adapters_never_raise(kind: str, body: object) -> None:
    """Called directly (not through safe_normalize), no adapter raises on any JSON value."""
    req = RawRequest(body=json.dumps(body).encode(), headers={"x-github-event": "workflow_run"})
    n = ADAPTERS[kind].create(None).normalize(req)
    assert n.platform == kind
    env = build_envelope(n, event_id="evt_X", source_id="s", received_at=0)
    assert not list(validator().iter_errors(json.loads(json.dumps(env))))
