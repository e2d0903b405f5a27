"""A test's trend (the run page's chart) and the events of several runs, on SQLite and a real
PostgreSQL; the trend walks the runs_previous index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receiver.store import Store
from receiver.store.runs import TREND_LATEST, TREND_UPTO, RunQuery
from tests.runs.helpers import envelope
from tests.store.conftest import Backend
from tests.store.test_runs import finished, only_run, put, runs_schema

# (run id, outcome, finish minute) in arrival order; "x" is cancelled (no verdict: not in a trend).
HISTORY = [("a", "passed", 1), ("b", "failed", 2), ("x", "cancelled", 3), ("c", "passed", 4), ("d", "failed", 5)]


@pytest.mark.parametrize(
    ("run_id", "limit", "expected"),
    [
        ("d", 50, ["d", "c", "b", "a"]),
        ("b", 50, ["b", "a"]),  # an older run: the trend up to it
        ("d", 2, ["d", "c"]),
        ("x", 50, ["d", "c", "b", "a"]),  # no verdict: the latest finished runs
        ("running", 3, ["d", "c", "b"]),  # not finished yet: likewise
    ],
)
def test_trend_of_a_test(backend: Backend, run_id: str, limit: int, expected: list[str]) -> None:
    async def body(store: Store) -> None:
        s: Any = store
        for n, (rid, outcome, minute) in enumerate(HISTORY):
            await put(store, finished(f"e{n}", rid, outcome, minute))
        await put(store, envelope("e9", "run.started", run_id="running", status="running"))
        await put(store, envelope("o1", "run.completed", run_id="other", name="Other", outcome="passed",
                                  finished_at="2026-02-06T12:06:00Z"))  # fmt: skip
        run = await only_run(store, run_id)
        assert [r.run_id for r in await s.run_trend(run, limit)] == expected

    backend.run(body)


def test_a_run_of_no_test_has_no_trend(backend: Backend) -> None:
    async def body(store: Store) -> None:
        done = envelope("e1", "run.completed", outcome="passed", name=None, finished_at="2026-02-06T12:06:00Z")
        await put(store, done)
        run = await only_run(store)
        assert run.test_key is None
        assert await store.run_trend(run, 50) == []  # type: ignore[attr-defined]

    backend.run(body)


def test_event_ids_of_several_runs(backend: Backend) -> None:
    async def body(store: Store) -> None:
        s: Any = store
        await put(store, envelope("e1", "run.started", run_id="a", status="running"))
        await put(store, envelope("e2", "run.started", run_id="b", status="running"))
        await put(store, finished("e3", "a", "passed", 1))
        keys = {r.run_id: r.key for r in await s.list_runs(RunQuery())}
        assert await s.run_event_ids([keys["a"], keys["b"], "run_0"]) == {keys["a"]: ["e1", "e3"], keys["b"]: ["e2"]}
        assert await s.run_event_ids([]) == {}

    backend.run(body)


@pytest.mark.parametrize(("sql", "args"), [(TREND_UPTO, ("t", 1.0, "k", 50)), (TREND_LATEST, ("t", 50))])
def test_the_trend_searches_the_previous_index(tmp_path: Path, sql: str, args: Any) -> None:
    """No scan of the runs table and no sort: 100,000 runs must not slow the run page down."""
    plan = " ".join(row[3] for row in runs_schema(tmp_path).execute("EXPLAIN QUERY PLAN " + sql, args))
    assert "SEARCH runs USING INDEX runs_previous (" in plan and "TEMP B-TREE" not in plan, plan
