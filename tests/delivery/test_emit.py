"""emit: a successful answer becomes a derived event (receiver.delivery.emit.derive)."""

from __future__ import annotations

from receiver.delivery.emit import derive
from receiver.rules import Router
from receiver.sinks.base import SendResult
from receiver.store.base import Claimed, DeliveryRow, DeliveryState

NOW = 1_767_225_600.0


def claimed(depth: int = 0) -> Claimed:
    row = DeliveryRow(
        id="dlv_1", event_id="evt_parent", rule="r", action_index=0, sink_id="fus-api", emit="comparison.completed",
        params={}, state=DeliveryState.QUEUED, attempts=1, created_at=NOW, updated_at=NOW, next_attempt_at=NOW,
        lease_until=None, lease_owner=None, last_error=None, ordering_key=None, ordering_time=None, replay_of=None,
        budget_start=NOW,
    )  # fmt: skip
    envelope = {"id": "evt_parent", "correlation_id": "evt_root", "platform": "fusillade", "subject": "run-1",
                "data": {"run": {"id": "run-1"}, "git": None}}  # fmt: skip
    return Claimed(row, envelope, depth, "fus")


def test_the_derived_event_keeps_no_credential_header_of_the_answer() -> None:
    answer = SendResult(
        200, "{}", body={"regression": True},
        headers={"X-Auth-Token": "t0k", "X-Api-Key": "k3y", "Set-Cookie": "s=1", "Content-Type": "application/json"},
    )  # fmt: skip
    event, deliveries = derive(claimed(), answer, NOW, Router(None), max_depth=5)
    assert event.headers == {"Content-Type": "application/json"}
    assert (event.parent_id, event.correlation_id, event.depth, event.kind) == ("evt_parent", "evt_root", 1, "derived")
    assert event.envelope["data"] == {"response": {"regression": True}, "run": {"id": "run-1"}}
    assert (event.type, event.source_id, list(event.dedupe_keys), deliveries) == (
        "comparison.completed", "fus-api", ["emit:dlv_1"], [],
    )  # fmt: skip


def test_past_the_chain_depth_the_event_is_stored_but_not_routed() -> None:
    event, deliveries = derive(claimed(depth=5), SendResult(200, "{}", body={}), NOW, Router(None), max_depth=5)
    assert deliveries == [] and event.normalize_error is not None
    assert "chain depth 6 exceeds delivery.max_chain_depth (5)" in event.normalize_error
    assert "normalize_error" not in event.envelope
