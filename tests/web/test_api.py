"""The JSON API of the delivery log: listing, paging, detail, retry, replay, stats, client errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from receiver.store.base import NewEvent
from tests.helpers import assert_no_secret, wait_for
from tests.servers import RecordingServer, Reply
from tests.web.conftest import SECRETS, Bench, open_bench


def ingest(bench: Bench) -> dict[str, str]:
    """Three completed and two failed runs, oldest first; name → event id."""
    runs = [("c1", "test.completed"), ("f1", "test.failed"), ("c2", "test.completed"), ("f2", "test.failed")]
    runs.append(("c3", "test.completed"))
    return {name: bench.post_event(event, f"run-{name}") for name, event in runs}


def test_events_newest_first_and_paged_by_before(bench: Bench) -> None:
    ids = ingest(bench)
    newest_first = list(reversed(ids.values()))
    seen: list[str] = []
    url = "/api/events?limit=2"
    pages = 0
    while url:
        body = bench.get(url).json()
        seen += [e["id"] for e in body["events"]]
        pages += 1
        url = f"/api/events?limit=2&before={body['next_before']}" if body["next_before"] else ""
    assert seen == newest_first
    assert pages == 3
    first = bench.get("/api/events?limit=1").json()["events"][0]
    assert first == {
        "id": ids["c3"],
        "source": "fusillade",
        "kind": "fusillade",
        "type": "run.completed",
        "subject": "run-c3",
        "received_at": first["received_at"],
        "normalize_error": None,
        "parent_id": None,
        "correlation_id": ids["c3"],
        "depth": 0,
        "rules_version": bench.hy.router.ruleset.version,  # type: ignore[union-attr]
        "matched_rules": ["compare-to-baseline"],
        "run_name": "API Load Test",
        "outcome": "passed",
        "delivery_states": {"queued": 1},
        "render_notes": None,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=run.failed", ["f2", "f1"]),
        ("source=fusillade&type=run.completed&limit=2", ["c3", "c2"]),
        ("source=github", []),
        ("q=run-c", ["c3", "c2", "c1"]),
        ("q=RUN-F1", ["f1"]),  # any case
        ("q=run-c&limit=2", ["c3", "c2"]),
        ("q=run-c&type=run.failed", []),
        ("since=2999-01-01T00:00:00Z", []),
        ("since=0", ["c3", "f2", "c2", "f1", "c1"]),
    ],
)
def test_events_filters_and_text_search(bench: Bench, query: str, expected: list[str]) -> None:
    ids = ingest(bench)
    got = [e["id"] for e in bench.get(f"/api/events?{query}").json()["events"]]
    assert got == [ids[name] for name in expected]


def test_text_search_by_exact_id_and_paging(bench: Bench) -> None:
    ids = ingest(bench)
    assert [e["id"] for e in bench.get(f"/api/events?q={ids['f1']}").json()["events"]] == [ids["f1"]]
    first = bench.get("/api/events?q=run-c&limit=2").json()
    assert first["next_before"] == ids["c2"]
    rest = bench.get(f"/api/events?q=run-c&limit=2&before={first['next_before']}").json()
    assert ([e["id"] for e in rest["events"]], rest["next_before"]) == ([ids["c1"]], None)


def test_event_detail_with_deliveries_attempts_and_replay(bench: Bench) -> None:
    ids = ingest(bench)
    (dlv,) = bench.delivery_ids(ids["f1"])
    bench.kill(dlv)
    body = bench.get(f"/api/events/{ids['f1']}").json()
    event = body["event"]
    assert (event["type"], event["subject"], event["matched_rules"]) == ("run.failed", "run-f1", ["notify-failed"])
    assert event["rules_version"] == bench.hy.router.ruleset.version  # type: ignore[union-attr]
    assert event["envelope"]["data"]["run"]["id"] == "run-f1"
    assert event["body"] is not None and '"test_id": "run-f1"' in event["body"]
    assert event["body_size"] == len(event["body"].encode())
    assert "x-fusillade-signature" in event["headers"]
    assert (body["parent"], body["root"], body["children"]) == (None, None, [])
    (d,) = body["deliveries"]
    assert (d["id"], d["state"], d["sink"], d["rule"], d["attempts"]) == (dlv, "dead", "hook", "notify-failed", 1)
    assert d["params"] == {"request": {"method": "POST", "path": "/failed", "json": {"run": "run-f1"}}}
    assert d["attempt_log"][0] | {"started_at": None} == {
        "number": 1,
        "started_at": None,
        "duration_ms": 12.5,
        "outcome": "failed",
        "status": 404,
        "error_class": "http_404",
        "reason": "http 404: no such endpoint",
        "response_excerpt": "not found",
    }

    r = bench.post(f"/api/events/{ids['f1']}/replay")
    assert r.status_code == 202
    (planned,) = r.json()["deliveries"]
    assert (planned["rule"], planned["sink"], planned["state"], planned["replay_of"]) == (
        "notify-failed",
        "hook",
        "queued",
        ids["f1"],
    )
    after = bench.get(f"/api/events/{ids['f1']}").json()["deliveries"]
    assert [(x["id"], x["state"], x["replay_of"]) for x in after] == [
        (dlv, "dead", None),
        (planned["id"], "queued", ids["f1"]),
    ]
    assert_no_secret(bench.seen, SECRETS)


def test_event_detail_lists_children_by_parent_id(bench: Bench) -> None:
    """A derived event is shown under its parent whatever its id, source or time says."""
    ids = ingest(bench)
    parent = bench.hy.store
    child = NewEvent(
        id="evt_zz_not_time_ordered", source_id="fus", kind="derived", type="comparison.completed",
        subject="run-c1", received_at=bench.hy.clock() + 3600, body=b"{}", body_sha256="0" * 64, headers={},
        envelope={"id": "evt_zz_not_time_ordered", "data": {}}, correlation_id=ids["c1"], parent_id=ids["c1"], depth=1,
    )  # fmt: skip
    bench.call(parent.save_event, child)
    body = bench.get(f"/api/events/{ids['c1']}").json()
    assert [c["id"] for c in body["children"]] == ["evt_zz_not_time_ordered"]
    assert bench.get(f"/api/events/{ids['c2']}").json()["children"] == []


def test_replay_with_no_matching_rule_queues_nothing(bench: Bench) -> None:
    event_id = bench.post_event("test.started", "run-s")
    r = bench.post(f"/api/events/{event_id}/replay")
    assert (r.status_code, r.json()["deliveries"], r.json()["matched_rules"]) == (200, [], [])


def test_retry_dead_only(bench: Bench) -> None:
    ids = ingest(bench)
    (dead,) = bench.delivery_ids(ids["f1"])
    (queued,) = bench.delivery_ids(ids["f2"])
    bench.kill(dead)
    assert bench.get(f"/api/deliveries/{dead}").json()["state"] == "dead"
    r = bench.post(f"/api/deliveries/{dead}/retry")
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["state"], r.json()["attempts"]) == (dead, "queued", 1)
    for delivery_id, state in ((dead, "queued"), (queued, "queued")):
        r = bench.post(f"/api/deliveries/{delivery_id}/retry")
        assert r.status_code == 409
        assert r.json() == {
            "error": f"delivery {delivery_id} is {state}; only dead, suppressed or silenced deliveries can be retried",
            "code": "not_dead",
        }


def test_deliveries_filters_and_stats(bench: Bench) -> None:
    ids = ingest(bench)
    (dead,) = bench.delivery_ids(ids["f1"])
    bench.kill(dead)

    def listed(query: str) -> list[str]:
        return [d["id"] for d in bench.get(f"/api/deliveries?{query}").json()["deliveries"]]

    assert listed("state=dead") == [dead]
    assert listed(f"event={ids['c1']}") == bench.delivery_ids(ids["c1"])
    assert set(listed("sink=hook")) == {dead, *bench.delivery_ids(ids["f2"])}
    assert len(listed("sink=fus")) == 3
    assert len(listed("limit=2")) == 2
    assert bench.get("/api/stats").json() == {
        "events": 5,
        "deliveries": {
            "queued": 4,
            "in_progress": 0,
            "retrying": 0,
            "succeeded": 0,
            "dead": 1,
            "superseded": 0,
            "suppressed": 0,
            "silenced": 0,
        },
        "dead_by_sink": {"hook": 1},
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/events?limit=0", 400, "bad_limit"),
        ("GET", "/api/events?limit=501", 400, "bad_limit"),
        ("GET", "/api/events?limit=ten", 400, "bad_limit"),
        ("GET", "/api/events?since=yesterday", 400, "bad_since"),
        ("GET", "/api/events?before=not%20an%20id", 400, "bad_before"),
        ("GET", "/api/events?q=" + "x" * 201, 400, "bad_q"),
        ("GET", "/api/deliveries?state=lost", 400, "bad_state"),
        ("GET", "/api/deliveries?limit=-1", 400, "bad_limit"),
        ("GET", "/api/events/evt_nope", 404, "event_not_found"),
        ("GET", "/api/deliveries/dlv_nope", 404, "delivery_not_found"),
        ("POST", "/api/deliveries/dlv_nope/retry", 404, "delivery_not_found"),
        ("POST", "/api/events/evt_nope/replay", 404, "event_not_found"),
        ("GET", "/api/nothing", 404, "not_found"),
        ("DELETE", "/api/events/evt_nope", 405, "method_not_allowed"),
        ("GET", "/api/deliveries/dlv_x/retry", 405, "method_not_allowed"),
    ],
)
def test_client_errors_are_json(bench: Bench, method: str, path: str, status: int, code: str) -> None:
    r = bench.client.request(method, path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert r.json()["code"] == code
    assert isinstance(r.json()["error"], str) and r.json()["error"]


@pytest.mark.parametrize(
    ("since", "kept"),
    [
        ("2026-02-06T12:00:00Z", True),
        ("2026-02-06T12:00:00+00:00", True),
        ("2026-02-06T12:00:00", True),  # naive: UTC
        ("1770379200", True),  # the same instant in seconds
        ("2999-01-01T00:00:00+01:00", False),
        ("2999-01-01", False),
    ],
)
def test_since_takes_iso_times_or_epoch_seconds(bench: Bench, since: str, kept: bool) -> None:
    assert datetime(2026, 2, 6, 12, tzinfo=UTC).timestamp() == 1770379200 < bench.hy.clock()
    event_id = bench.post_event("test.failed", "run-x")
    got = [e["id"] for e in bench.get("/api/events", params={"since": since}).json()["events"]]
    assert got == ([event_id] if kept else [])


def test_derived_events_link_parent_and_children(tmp_path: Path, secret_env: None) -> None:
    """A real dispatcher: compare (emit) → derived comparison.completed → hook; the API links the chain."""
    with (
        RecordingServer(default=Reply(200, {"regression": False})) as fus,
        RecordingServer(default=Reply(200, {"ok": True})) as hook,
        open_bench(tmp_path, deliver=True, hook_url=hook.url, fus_url=fus.url) as bench,
    ):
        root = bench.post_event("test.completed", "run-chain")

        def detail(event_id: str) -> dict[str, Any]:
            body: dict[str, Any] = bench.get(f"/api/events/{event_id}").json()
            return body

        parent = wait_for(lambda: detail(root) if detail(root)["children"] else None)
        (child,) = parent["children"]
        assert (child["type"], child["parent_id"], child["source"]) == ("comparison.completed", root, "fus")
        assert parent["deliveries"][0]["state"] == "succeeded"
        derived = detail(child["id"])
        assert derived["parent"]["id"] == root
        assert derived["root"] is None  # the parent is the root: not shown twice
        assert derived["event"]["envelope"]["data"]["response"] == {"regression": False}
        wait_for(lambda: detail(child["id"])["deliveries"][0]["state"] == "succeeded")
        assert [r.path for r in hook.received] == ["/compared"]
        assert fus.received[0].path == "/api/v1/tests/run-chain/compare/base-1"
        assert_no_secret(bench.seen, SECRETS)
