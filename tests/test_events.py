"""new_event (receiver.events): the stored row of every new event, rooted or derived."""

from __future__ import annotations

import hashlib

from receiver.events import Normalized, new_event

NOW = 1_767_225_600.0


def test_a_root_event_correlates_to_itself_and_keeps_no_credential_header() -> None:
    body = b'{"x": 1}'
    event = new_event(
        Normalized(type="run.completed", platform="fusillade", subject="run-1"),
        source_id="fus", kind="fusillade", received_at=NOW, body=body,
        headers={"authorization": "Bearer s3cr3t", "x-api-key": "k3y", "x-token": "t0k", "x-fusillade-signature": "v1"},
        private_headers=frozenset({"x-token"}), dedupe_keys=["id:1"],
    )  # fmt: skip
    assert event.id.startswith("evt_") and event.envelope["id"] == event.id
    assert (event.parent_id, event.correlation_id, event.envelope["correlation_id"]) == (None, event.id, event.id)
    assert (event.type, event.subject, event.kind, event.source_id) == ("run.completed", "run-1", "fusillade", "fus")
    assert event.body_sha256 == hashlib.sha256(body).hexdigest()
    assert event.headers == {"x-fusillade-signature": "v1"}
    assert list(event.dedupe_keys) == ["id:1"]


def test_a_derived_event_links_to_its_parent_and_its_root() -> None:
    parent = {"id": "evt_parent", "correlation_id": "evt_root"}
    event = new_event(
        Normalized(type="response", platform="hookyard"),
        source_id="sink", kind="derived", received_at=NOW, body=b"{}", headers={"Set-Cookie": "a=b", "X-Ok": "1"},
        parent=parent, depth=2,
    )  # fmt: skip
    assert (event.parent_id, event.correlation_id, event.depth) == ("evt_parent", "evt_root", 2)
    assert (event.envelope["parent_id"], event.envelope["correlation_id"]) == ("evt_parent", "evt_root")
    assert event.headers == {"X-Ok": "1"}
