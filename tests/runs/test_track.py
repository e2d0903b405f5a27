"""Run tracking in process: merging events in any order, and enriching the envelope."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from receiver.runs.track import enrich, previous_dict, track
from receiver.store.runs import RunRow
from tests.runs.helpers import BREACH, DONE, GIT, NO_GIT, QUEUED, STARTED, envelope, new_event, no_rules, step
from tests.sources.helpers import ROOT, validator

Spec = tuple[str, str, dict[str, Any]]


def fold(specs: list[Spec]) -> RunRow:
    """The run row after these events, applied as the store applies them (merge, then complete)."""
    row: RunRow | None = None
    for event_id, type, values in specs:
        env = envelope(event_id, type, **values)
        s = step(env)
        merged = s.merge(row)
        _, _, row = s.complete(new_event(env), merged, None)
    assert row is not None
    return row


FINAL_OF_ONE_RUN = {"status": "completed", "outcome": "failed", "final": True, "sha": "abc123", "branch": "main",
                    "started_at": "2026-02-06T12:01:00Z", "finished_at": "2026-02-06T12:05:00Z",
                    "metrics": {"p95_latency_ms": 700}, "verdict": "failed"}  # fmt: skip


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(list(p), id="-".join(e[1] for e in p))
        for p in itertools.permutations([QUEUED, STARTED, BREACH, DONE])
    ]
    + [
        pytest.param([QUEUED, DONE, DONE, STARTED], id="final-twice-then-late-start"),
        pytest.param([DONE, BREACH, BREACH, QUEUED, STARTED], id="final-first-then-repeats"),
    ],
)
def test_any_order_and_repeats_end_in_the_same_row(order: list[Spec]) -> None:
    row = fold(order)
    for name, expected in FINAL_OF_ONE_RUN.items():
        assert getattr(row, name) == expected, name
    assert row.first_event_id == order[0][0] and row.last_event_id == order[-1][0]


@pytest.mark.parametrize(
    ("specs", "status", "outcome"),
    [
        # Non-final events: the platform's later time wins whatever the arrival order.
        ([STARTED, QUEUED], "running", None),
        ([QUEUED, STARTED], "running", None),
        # Two final events: the later platform time wins.
        ([DONE, ("e5", "run.completed", {"time": "2026-02-06T12:09:00Z", "status": "completed", "outcome": "passed"})],
         "completed", "passed"),
        ([("e5", "run.completed", {"time": "2026-02-06T12:09:00Z", "status": "completed", "outcome": "passed"}), DONE],
         "completed", "passed"),
        # A final event beats a non-final one with a later time (a clock skew on the platform).
        ([DONE, ("e6", "run.started", {"time": "2026-02-06T13:00:00Z", "status": "running"})], "completed", "failed"),
    ],
)  # fmt: skip
def test_ordering(specs: list[Spec], status: str, outcome: str | None) -> None:
    row = fold(specs)
    assert (row.status, row.outcome) == (status, outcome)


def test_non_run_events_are_not_tracked() -> None:
    env = envelope("e1", "run.completed")
    env["data"] = {"git": GIT}
    assert track(env, 0.0, no_rules) is None
    env["data"] = {"run": {**env.get("data", {}).get("run", {}), "id": None}}
    assert track(env, 0.0, no_rules) is None


def row_with(**values: Any) -> RunRow:
    return replace(step(envelope("e0", "run.started")).merge(None), **values)


@pytest.mark.parametrize(
    ("event_git", "run_git", "expected"),
    [
        pytest.param(None, GIT, {**GIT, "inferred_from": "run"}, id="no-git-gets-the-runs"),
        pytest.param(NO_GIT, GIT, {**GIT, "inferred_from": "run"}, id="empty-git-gets-the-runs"),
        pytest.param({**NO_GIT, "sha": "fff"}, GIT, {**GIT, "sha": "fff", "inferred_from": "event"}, id="own-sha-kept"),
        pytest.param({**NO_GIT, "branch": "dev"}, {**NO_GIT, "repo": "a/b"},
                     {**NO_GIT, "repo": "a/b", "branch": "dev", "inferred_from": "event"}, id="no-sha-anywhere"),
        pytest.param(None, NO_GIT, None, id="nothing-known-nothing-invented"),
    ],
)  # fmt: skip
def test_git_enrichment(
    event_git: dict[str, Any] | None, run_git: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    env = envelope("e9", "run.completed", git=event_git, outcome="passed")
    run = row_with(**run_git)
    enriched = enrich(env, run, None, final=False)
    assert enriched["data"].get("git") == expected
    assert enriched["data"]["run"]["key"] == run.key
    assert "previous" not in enriched["data"]["run"] and "transition" not in enriched["data"]["run"]
    assert env["data"].get("git") == event_git  # the adapter's envelope is not changed in place


def test_final_events_carry_previous_and_transition() -> None:
    previous = row_with(key="run_" + "0" * 32, outcome="passed", url="https://x/1", metrics={"rps": 5}, **GIT)
    current = row_with(transition="broken")
    enriched = enrich(envelope("e9", "run.completed", outcome="failed"), current, previous, final=True)
    assert enriched["data"]["run"]["previous"] == previous_dict(previous) == {
        "key": previous.key, "outcome": "passed", "metrics": {"rps": 5}, "git": GIT, "url": "https://x/1",
        "finished_at": None,
    }  # fmt: skip
    assert enriched["data"]["run"]["transition"] == "broken"
    first = enrich(envelope("e9", "run.completed", outcome="failed"), row_with(transition="first"), None, final=True)
    assert first["data"]["run"]["previous"] is None and first["data"]["run"]["transition"] == "first"


def test_rules_are_planned_on_the_enriched_envelope() -> None:
    seen: list[Any] = []

    def planner(env: Any) -> Any:
        seen.append(env)
        return no_rules(env)

    first = step(envelope("e1", "run.queued", git=GIT))
    row = first.complete(new_event(envelope("e1", "run.queued", git=GIT)), first.merge(None), None)[2]
    later_env = envelope("e2", "run.completed", outcome="passed")
    later = step(later_env, planner)
    event, _, _ = later.complete(new_event(later_env), later.merge(row), None)
    assert seen[0]["data"]["git"]["sha"] == "abc123" and seen[0]["data"]["git"]["inferred_from"] == "run"
    assert event.envelope is seen[0] and event.rules_version == "v-test"


def test_the_documented_example_is_valid() -> None:
    """docs/events.md shows an enriched data section: it validates against the published schema."""
    text = (ROOT / "docs" / "events.md").read_text()
    found = re.search(r"<!-- run example -->\n```json\n(.*?)\n```", text, re.S)
    assert found is not None
    data = json.loads(found.group(1))
    env = envelope("e1", "run.completed", outcome="failed")
    env["data"] = data
    assert not list(validator().iter_errors(env))
    assert list(data["run"]["previous"]) == list(previous_dict(row_with()) or {})


@pytest.mark.parametrize("existing", [False, True], ids=["new-run", "known-run"])
def test_a_retried_step_merges_and_completes_the_same(existing: bool) -> None:
    """The store may run a step again (a retried transaction): merge and complete copy the rows they
    fill in, so the step, the current row and the event stay as they were."""
    current = fold([QUEUED]) if existing else None
    before = replace(current) if current else None
    env = envelope(DONE[0], DONE[1], **DONE[2])
    s, event = step(env), new_event(env)
    fresh = replace(s.fresh)
    previous = row_with(key="run_" + "0" * 32, outcome="passed", verdict="passed", ended_at=1.0)
    results = []
    for _ in range(2):
        planned, _, run = s.complete(event, s.merge(current), previous)
        results.append((planned, run))
        assert run is not s.fresh and run is not current
    assert results[0] == results[1] and results[0][1].transition == "broken"
    assert results[0][0].envelope["data"]["run"]["key"] == results[0][1].key and event.envelope == env
    assert "key" not in env["data"]["run"] and results[0][0] is not event
    assert s.fresh == fresh and current == before
