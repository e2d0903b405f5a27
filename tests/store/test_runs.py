"""The runs table through the store, on SQLite and a real PostgreSQL: ordering, redeliveries,
previous/transition, concurrent receivers, and the reads."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from receiver.runs.track import save, track
from receiver.store import Store, open_store
from receiver.store.migrate import migrations
from receiver.store.runs import PREVIOUS_ANY_BRANCH, PREVIOUS_SAME_BRANCH, RunQuery, RunRow, list_sql
from tests.runs.helpers import BREACH, DONE, GIT, QUEUED, STARTED, envelope, new_event, no_rules
from tests.store.conftest import Backend

Spec = tuple[str, str, dict[str, Any]]
_TICK = itertools.count()  # each save a second later: run keys (time-ordered) follow arrival


async def put(store: Store, env: dict[str, Any], keys: tuple[str, ...] = ()) -> bool:
    """Store one run event as ingest does; True when it was new."""
    result, _ = await save(store, new_event(env, keys=keys), no_rules, 1_770_000_000.0 + next(_TICK))
    return not result.duplicate


async def only_run(store: Any, run_id: str = "r-1") -> RunRow:
    runs = [r for r in await store.list_runs(RunQuery(limit=500)) if r.run_id == run_id]
    assert len(runs) == 1
    return runs[0]


@pytest.mark.parametrize(
    "order",
    [
        [QUEUED, STARTED, BREACH, DONE],
        [DONE, STARTED, QUEUED, BREACH],
        [BREACH, DONE, QUEUED, STARTED],
        [STARTED, DONE, DONE, QUEUED],  # DONE twice under different ids: a second report, not a redelivery
    ],
    ids=lambda order: "-".join(e[0] for e in order),
)
def test_out_of_order_events_end_in_the_final_row(backend: Backend, order: list[Spec]) -> None:
    async def body(store: Store) -> None:
        for n, (event_id, type, values) in enumerate(order):
            assert await put(store, envelope(f"{event_id}-{n}", type, **values))
        run = await only_run(store)
        assert (run.status, run.outcome, run.final, run.sha, run.branch) == (
            "completed",
            "failed",
            True,
            "abc123",
            "main",
        )
        assert (run.started_at, run.finished_at) == ("2026-02-06T12:01:00Z", "2026-02-06T12:05:00Z")
        assert run.metrics == {"p95_latency_ms": 700}
        assert run.first_event_id == f"{order[0][0]}-0" and run.last_event_id == f"{order[-1][0]}-{len(order) - 1}"
        events = await store.run_events(run.key, 100)  # type: ignore[attr-defined]
        assert [e.id for e in events] == sorted(f"{e[0]}-{n}" for n, e in enumerate(order))
        # The stored envelope is the enriched one: every event knows its run, and from the
        # event that brought the commit on, the commit too.
        knows_commit = {f"{e[0]}-{n}" for n, e in enumerate(order) if n >= order.index(QUEUED)}
        for e in events:
            assert e.envelope["data"]["run"]["key"] == run.key
            assert e.envelope["data"].get("git", {}).get("sha") == ("abc123" if e.id in knows_commit else None)

    backend.run(body)


def test_a_redelivery_changes_nothing(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await put(store, envelope("e1", "run.started", status="running"), keys=("id:d1",))
        before = await only_run(store)
        # The same delivery again, even with a later state in it: it is the first one, not an update.
        assert not await put(store, envelope("e2", "run.completed", outcome="passed"), keys=("id:d1",))
        assert await only_run(store) == before
        assert [e.id for e in await store.run_events(before.key, 10)] == ["e1"]  # type: ignore[attr-defined]

    backend.run(body)


def finished(event_id: str, run_id: str, outcome: str, minute: int, branch: str | None = "main") -> dict[str, Any]:
    at = f"2026-02-06T12:{minute:02d}:00Z"
    git = {**GIT, "branch": branch} if branch else None
    return envelope(event_id, "run.completed", run_id=run_id, time=at, finished_at=at, outcome=outcome, git=git)


# (run id, outcome, finish minute, branch) in arrival order → (previous run id, transition) of each.
HISTORIES = {
    "flips": (
        [("a", "passed", 1, "main"), ("b", "failed", 2, "main"), ("c", "failed", 3, "main"),
         ("d", "passed", 4, "main"), ("e", "passed", 5, "main")],
        [(None, "first"), ("a", "broken"), ("b", "still_failing"), ("c", "fixed"), ("d", "still_passing")],
    ),
    "per-branch": (
        [("a", "passed", 1, "main"), ("b", "failed", 2, "dev"), ("c", "passed", 3, "main"), ("d", "passed", 4, "dev")],
        [(None, "first"), (None, "first"), ("a", "still_passing"), ("b", "fixed")],
    ),
    "unknown-branch-takes-any": (
        [("a", "passed", 1, "main"), ("b", "failed", 2, "dev"), ("c", "failed", 3, None)],
        [(None, "first"), (None, "first"), ("b", "still_failing")],
    ),
    "cancelled-is-skipped-over": (
        [("a", "failed", 1, "main"), ("b", "cancelled", 2, "main"), ("c", "passed", 3, "main")],
        [(None, "first"), ("a", None), ("a", "fixed")],
    ),
    "same-finish-time-ordered-by-key": (
        [("a", "passed", 1, "main"), ("b", "failed", 1, "main"), ("c", "failed", 1, "main")],
        [(None, "first"), ("a", "broken"), ("b", "still_failing")],
    ),
    "late-arrival-ordered-by-finish-time": (
        [("b", "failed", 5, "main"), ("a", "passed", 1, "main")],
        [(None, "first"), (None, "first")],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", HISTORIES)
def test_previous_and_transition(backend: Backend, name: str) -> None:
    runs, expected = HISTORIES[name]

    async def body(store: Store) -> None:
        keys: dict[str, str] = {}
        for n, (run_id, outcome, minute, branch) in enumerate(runs):
            await put(store, finished(f"e{n}", run_id, outcome, minute, branch))
            row = await only_run(store, run_id)
            keys[run_id] = row.key
            event = await store.get_event(f"e{n}")
            assert event is not None
            run = event.envelope["data"]["run"]
            prev_id, transition = expected[n]
            assert (row.previous_key, row.transition) == (keys[prev_id] if prev_id else None, transition)
            assert run["transition"] == transition
            assert (run["previous"] or {}).get("key") == (keys[prev_id] if prev_id else None)

    backend.run(body)


def runs_schema(tmp_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "plan.db")
    for _, _, sql in migrations("sqlite"):  # all of them: later ones add runs columns (0006)
        for statement in sql.split(";\n"):
            conn.execute(statement)
    return conn


def test_previous_walks_an_index_whatever_the_history(tmp_path: Path) -> None:
    """Looking up previous must not scan the test's history: every run of a load test may end at
    the same second (a scan made each insert cost O(runs), the ingest benchmark crawled)."""
    conn = runs_schema(tmp_path)
    for sql, args in ((PREVIOUS_ANY_BRANCH, ("t", 1.0, "k")), (PREVIOUS_SAME_BRANCH, ("t", "main", 1.0, "k"))):
        (plan,) = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
        assert plan.startswith("SEARCH runs USING INDEX runs_previous") and "(ended_at,key)<(?,?)" in plan, plan



@pytest.mark.parametrize(
    ("sql", "args", "index"),
    [
        (PREVIOUS_ANY_BRANCH, ("t", 1.0, "k"), "runs_previous"),
        (PREVIOUS_SAME_BRANCH, ("t", "main", 1.0, "k"), "runs_previous_branch"),
        *((*list_sql(RunQuery(**{f: v})), f"runs_{f}") for f, v in  # type: ignore[arg-type]
          (("name", "n"), ("branch", "main"), ("pr", 7), ("outcome", "failed"), ("transition", "broken"))),
    ],
)  # fmt: skip
def test_each_lookup_searches_its_partial_index(tmp_path: Path, sql: str, args: Any, index: str) -> None:
    """The indexes are partial (below); each query must still search its own index, not scan the runs."""
    plan = " ".join(row[3] for row in runs_schema(tmp_path).execute("EXPLAIN QUERY PLAN " + sql, args))
    assert f"SEARCH runs USING INDEX {index} (" in plan, plan


@pytest.mark.parametrize(
    ("events", "indexed"),
    [
        pytest.param([STARTED], {"runs_name"}, id="in-progress-no-git"),
        pytest.param([QUEUED], {"runs_name", "runs_branch"}, id="in-progress-with-branch"),
        pytest.param([STARTED, DONE], {"runs_name", "runs_outcome", "runs_transition", "runs_previous"},
                     id="finished-no-git"),
        pytest.param([QUEUED, DONE], {"runs_name", "runs_outcome", "runs_transition", "runs_previous", "runs_branch",
                                      "runs_previous_branch"}, id="finished-with-branch"),
    ],
)  # fmt: skip
def test_a_run_is_written_only_to_the_indexes_that_can_find_it(
    tmp_path: Path, events: list[Spec], indexed: set[str]
) -> None:
    """Each index a run row enters costs ingest a b-tree insert (issue #13's budget): a run in
    progress is nobody's previous, and a run without a branch, PR or transition is not in those filters."""
    db = tmp_path / "hookyard.db"

    async def main() -> None:
        store: Any = open_store(f"sqlite:///{db}")
        await store.open()
        try:
            for event_id, type, values in events:
                await put(store, envelope(event_id, type, **values))
        finally:
            await store.close()

    asyncio.run(main())
    with closing(sqlite3.connect(db)) as conn:
        cells = dict(conn.execute(
            "SELECT name, sum(ncell) FROM dbstat WHERE name LIKE 'runs_%' AND pagetype = 'leaf' GROUP BY name"
        ).fetchall())  # fmt: skip
    assert {name for name, n in cells.items() if n} == indexed, cells

def test_filters_and_paging(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await put(store, finished("e1", "a", "passed", 1))
        await put(store, finished("e2", "b", "failed", 2))
        await put(store, finished("e3", "c", "failed", 3, branch="dev"))
        await put(store, envelope("e4", "run.started", run_id="d", status="running", git={**GIT, "pr": 42}))
        s: Any = store

        async def ids(**q: Any) -> list[str]:
            return [r.run_id for r in await s.list_runs(RunQuery(**q))]

        assert await ids() == ["d", "c", "b", "a"]
        assert await ids(outcome="failed") == ["c", "b"]
        assert await ids(branch="main", transition="broken") == ["b"]
        assert await ids(pr=42) == ["d"]
        assert await ids(name="Checkout", platform="fusillade", limit=2) == ["d", "c"]
        assert await ids(name="nope") == []
        page = await s.list_runs(RunQuery(limit=2))
        assert await ids(before=page[-1].key) == ["b", "a"]
        assert await s.get_run(page[0].key) == page[0]
        assert await s.get_run("run_missing") is None

    backend.run(body)


def test_concurrent_receivers_update_one_run(backend: Backend) -> None:
    """Several stores (like several receiver processes) save events of one run at once. On SQLite each
    store's writer looks the run up inside its BEGIN IMMEDIATE transaction, so its plain insert of a
    new run never meets a row another writer created (runs.INSERT_RUN)."""
    sequence = [QUEUED, STARTED, BREACH, DONE] * 4
    runs = ["r-1", "r-2", "r-3"]
    events = [
        envelope(f"{run}-e{n}", spec[1], run_id=run, **spec[2]) for run in runs for n, spec in enumerate(sequence)
    ]

    async def main() -> None:
        stores = [backend.store() for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            await asyncio.gather(*(put(stores[n % 4], env) for n, env in enumerate(events)))
            for run_id in runs:
                run = await only_run(stores[0], run_id)
                assert (run.status, run.outcome, run.sha, run.started_at, run.metrics) == (
                    "completed", "failed", "abc123", "2026-02-06T12:01:00Z", {"p95_latency_ms": 700}
                ), run_id  # fmt: skip
                linked = await stores[0].run_events(run.key, 100)  # type: ignore[attr-defined]
                assert sorted(e.id for e in linked) == sorted(e["id"] for e in events if e["subject"] == run_id)
        finally:
            for s in stores:
                await s.close()

    asyncio.run(main())


def test_values_a_column_cannot_hold_do_not_make_the_event_unstorable(backend: Backend) -> None:
    """A verified body is always stored: an integer beyond 64 bits, a number beyond a double,
    NUL in text (PostgreSQL refuses it) stay in the envelope; the run row does without them."""

    async def body(store: Store) -> None:
        env = envelope("e1", "run.completed", name="Check\x00out", outcome="passed", duration_ms=10**400,
                       git={**GIT, "pr": 10**30})  # fmt: skip
        assert await put(store, env)
        run = await only_run(store)
        assert (run.pr, run.duration_ms, run.sha) == (None, None, "abc123")
        assert run.name in ("Check\x00out", "Check\ufffdout")  # PostgreSQL text has no NUL
        stored = await store.get_event("e1")
        assert stored is not None and stored.envelope["data"]["git"]["pr"] == 10**30

    backend.run(body)


def test_events_without_a_run_are_stored_as_before(backend: Backend) -> None:
    async def body(store: Store) -> None:
        env = envelope("e1", "git.push", git=GIT)
        env["data"] = {"git": GIT}
        assert track(env, 0.0, no_rules) is None
        assert await put(store, env)
        stored = await store.get_event("e1")
        assert stored is not None and stored.envelope["data"] == {"git": GIT} and stored.rules_version == "v-test"
        assert await store.list_runs(RunQuery()) == []  # type: ignore[attr-defined]

    backend.run(body)
