"""Deployment commits and baselines through the store, on SQLite and a real PostgreSQL: what a run
event reads in its own transaction (``runs_history``), and that each read walks an index."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from receiver.runs.baseline import BaselineOptions
from receiver.runs.deployment import GitOptions
from receiver.runs.track import save
from receiver.store import Store
from receiver.store.migrate import migrations
from receiver.store.runs_history import (
    BASELINE_ANY_BRANCH,
    BASELINE_ON_BRANCH,
    DEFAULT_BRANCH,
    LATEST_DEPLOYMENT,
    LATEST_DEPLOYMENT_IN_ENV,
)
from tests.pg import PostgresServer
from tests.runs.helpers import GIT, envelope, new_event, no_rules
from tests.sources.helpers import envelope_for
from tests.store.conftest import Backend

_TICK = itertools.count()
LOOKUP = GitOptions(repo="acme/shop", sha="latest_deployment")
IN_PROD = GitOptions(repo="acme/shop", branch="main", sha="latest_deployment", environment="production")


def deployed(event_id: str, sha: str, at: str, environment: str = "production", repo: str = "acme/shop",
             state: str = "success", default_branch: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A GitHub ``deployment_status`` event as the github adapter normalizes it."""
    body = {
        "action": "created",
        "deployment_status": {"state": state, "environment": environment, "updated_at": at},
        "deployment": {"id": 1, "sha": sha, "ref": "main", "environment": environment},
        "repository": {"full_name": repo, **({"default_branch": default_branch} if default_branch else {})},
    }
    _, env = envelope_for("github", json.dumps(body).encode(), headers={"X-GitHub-Event": "deployment_status"})
    return {**env, "id": event_id, "source": "gh"}


async def put(store: Store, env: dict[str, Any], keys: tuple[str, ...] = (), **options: Any) -> dict[str, Any]:
    """Store one event as ingest does (with the source's options); the envelope as stored."""
    result, _ = await save(store, new_event(env, keys=keys), no_rules, 1_770_000_000.0 + next(_TICK), **options)
    stored = await store.get_event(result.event_id)
    assert stored is not None
    return stored.envelope


STARTED = "2026-02-06T12:00:00Z"
# (deployments as (sha, time, environment)), the source's git options, the run's own git → its sha, inferred_from
LOOKUPS = {
    "newest-before-start": (
        [("d1", "2026-02-06T10:00:00Z", "production"), ("d2", "2026-02-06T11:00:00Z", "production"),
         ("d3", "2026-02-06T13:00:00Z", "production")],
        LOOKUP, None, ("d2", "deployment"),
    ),
    "at-the-start-counts": ([("d1", STARTED, "production")], LOOKUP, None, ("d1", "deployment")),
    "environment-filter": (
        [("d1", "2026-02-06T10:00:00Z", "production"), ("d2", "2026-02-06T11:00:00Z", "staging")],
        IN_PROD, None, ("d1", "deployment"),
    ),
    "no-environment-takes-any": (
        [("d1", "2026-02-06T10:00:00Z", "production"), ("d2", "2026-02-06T11:00:00Z", "staging")],
        LOOKUP, None, ("d2", "deployment"),
    ),
    "none-before-start": ([("d1", "2026-02-06T13:00:00Z", "production")], LOOKUP, None, (None, None)),
    "other-repo": (
        [("d1", "2026-02-06T10:00:00Z", "production")], GitOptions(repo="acme/other", sha="latest_deployment"), None,
        (None, None),
    ),
    "the-events-own-sha-wins": ([("d1", "2026-02-06T10:00:00Z", "production")], LOOKUP, GIT, ("abc123", "event")),
    "not-asked": ([("d1", "2026-02-06T10:00:00Z", "production")], GitOptions(repo="acme/shop"), None, (None, None)),
}  # fmt: skip


@pytest.mark.parametrize("name", LOOKUPS)
def test_deployment_lookup(backend: Backend, name: str) -> None:
    deployments, options, git, (sha, inferred) = LOOKUPS[name]

    async def body(store: Store) -> None:
        for n, (d_sha, at, environment) in enumerate(deployments):
            await put(store, deployed(f"dep{n}", d_sha, at, environment))
        env = await put(store, envelope("e1", "run.started", time=STARTED, started_at=STARTED, git=git), git=options)
        got = env["data"].get("git") or {}
        assert (got.get("sha"), got.get("inferred_from") if got.get("sha") else None) == (sha, inferred)
        assert got.get("repo") == (git["repo"] if git else options.repo)  # the source's repo fills the event
        (run,) = await store.list_runs(_all())  # type: ignore[attr-defined]
        assert run.sha == sha
        # Later events of the run carry the commit it was given.
        later = await put(store, envelope("e2", "run.completed", time="2026-02-06T12:05:00Z", outcome="passed",
                                          finished_at="2026-02-06T12:05:00Z"), git=options)  # fmt: skip
        assert (later["data"].get("git") or {}).get("sha") == sha

    backend.run(body)


async def recorded(store: Any, backend: Backend) -> list[str]:
    """The event ids in the deployments table (each backend's own read helper)."""
    sql = "SELECT event_id FROM deployments ORDER BY event_id"
    if backend.name == "postgres":
        rows = await store._read(sql)
    else:
        rows = await store._read(lambda conn: conn.execute(sql).fetchall())
    return [r[0] for r in rows]


def _all() -> Any:
    from receiver.store.runs import RunQuery

    return RunQuery(limit=500)


def test_only_new_successful_deployments_are_recorded(backend: Backend) -> None:
    """A failed deployment is no commit to test; a redelivered success is recorded once (the
    redelivery check runs first), and the source's branch fills the event without one."""

    async def body(store: Store) -> None:
        await put(store, deployed("dep1", "good", "2026-02-06T10:00:00Z"), keys=("id:d1",))
        await put(store, deployed("dep2", "good", "2026-02-06T10:00:00Z"), keys=("id:d1",))
        await put(store, deployed("dep3", "bad", "2026-02-06T11:00:00Z", state="failure"))
        env = await put(store, envelope("e1", "run.started", time=STARTED, started_at=STARTED), git=IN_PROD)
        assert env["data"]["git"] == {"repo": "acme/shop", "sha": "good", "branch": "main", "pr": None,
                                      "inferred_from": "deployment"}  # fmt: skip
        assert await recorded(store, backend) == ["dep1"]

    backend.run(body)


def test_concurrent_receivers_record_and_find_deployments(backend: Backend) -> None:
    """Several stores (processes) record deployments and look them up at once: every run that
    started after all deployments gets the newest, whichever store stored it."""
    deploys = [deployed(f"dep{n}", f"sha{n}", f"2026-02-06T10:{n:02d}:00Z") for n in range(8)]
    runs = [envelope(f"e{n}", "run.started", run_id=f"r{n}", time=STARTED, started_at=STARTED) for n in range(8)]

    async def main() -> None:
        stores = [backend.store() for _ in range(3)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            await asyncio.gather(*(put(stores[n % 3], env) for n, env in enumerate(deploys)))
            found = await asyncio.gather(*(put(stores[n % 3], env, git=LOOKUP) for n, env in enumerate(runs)))
            assert {env["data"]["git"]["sha"] for env in found} == {"sha7"}
        finally:
            for s in stores:
                await s.close()

    asyncio.run(main())


def finished(event_id: str, run_id: str, minute: int, outcome: str = "passed", branch: str | None = "main",
             p95: float | None = None, **run: Any) -> dict[str, Any]:  # fmt: skip
    at = f"2026-02-06T12:{minute:02d}:00Z"
    git = {**GIT, "branch": branch} if branch else None
    metrics = {"p95_latency_ms": p95, "error_rate": 0.01} if p95 is not None else None
    return envelope(event_id, "run.completed", run_id=run_id, time=at, finished_at=at, outcome=outcome, git=git,
                    metrics=metrics, **run)  # fmt: skip


# History (run id, minute, outcome, branch, p95), then the judged run → (baseline p95, n, regression reasons).
BASELINES = {
    "median-of-passing-runs": (
        [("a", 1, "passed", "main", 100), ("b", 2, "failed", "main", 900), ("c", 3, "passed", "main", 300),
         ("d", 4, "passed", "main", 200)],
        ("x", 9, "passed", "main", 230), BaselineOptions(), (200, 3, ["p95 latency increased 15.0%"]),
    ),
    "last-n-runs": (
        [("a", 1, "passed", "main", 1000), ("b", 2, "passed", "main", 100), ("c", 3, "passed", "main", 100)],
        ("x", 9, "passed", "main", 100), BaselineOptions(runs=2), (100, 2, []),
    ),
    "feature-branch-compares-with-main": (
        [("a", 1, "passed", "main", 100), ("b", 2, "passed", "feature", 500)],
        ("x", 9, "passed", "feature", 120), BaselineOptions(), (100, 1, ["p95 latency increased 20.0%"]),
    ),
    "configured-branch": (
        [("a", 1, "passed", "main", 100), ("b", 2, "passed", "release", 500)],
        ("x", 9, "passed", "feature", 520), BaselineOptions(branch="release"), (500, 1, []),
    ),
    "no-branch-compares-with-any": (
        [("a", 1, "passed", "main", 100), ("b", 2, "passed", "feature", 300), ("c", 3, "passed", None, 200)],
        ("x", 9, "failed", None, 200), BaselineOptions(), (200, 3, []),
    ),
    "later-runs-are-not-the-baseline": (
        [("a", 10, "passed", "main", 100), ("b", 1, "passed", "main", 400)],
        ("x", 5, "passed", "main", 400), BaselineOptions(), (400, 1, []),
    ),
    "no-passing-run-no-baseline": (
        [("a", 1, "failed", "main", 100)], ("x", 9, "passed", "main", 400), BaselineOptions(), None,
    ),
    "disabled": (
        [("a", 1, "passed", "main", 100)], ("x", 9, "passed", "main", 400), BaselineOptions(runs=0), "absent",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_on_final_events(backend: Backend, name: str) -> None:
    history, (run_id, minute, outcome, branch, p95), options, expected = BASELINES[name]

    async def body(store: Store) -> None:
        for n, (h_id, h_minute, h_outcome, h_branch, h_p95) in enumerate(history):
            await put(store, finished(f"h{n}", h_id, h_minute, h_outcome, h_branch, h_p95), baseline=options)
        data = (await put(store, finished("e1", run_id, minute, outcome, branch, p95), baseline=options))["data"]
        if expected == "absent":
            assert "baseline" not in data and "regression" not in data
        elif expected is None:
            assert (data["baseline"], data["regression"]) == (None, None)
        else:
            base_p95, n, reasons = expected
            assert (data["baseline"]["metrics"]["p95_latency_ms"], data["baseline"]["n"]) == (base_p95, n)
            assert data["baseline"]["metrics"]["error_rate"] == 0.01
            assert data["regression"] == {"regression": bool(reasons), "reasons": reasons}

    backend.run(body)


def test_default_branch_comes_from_deployment_events(backend: Backend) -> None:
    """Without ``baseline.branch`` the baseline branch is the repository's default branch when a
    deployment event of the repository named it (GitHub's repository.default_branch), else main."""

    async def body(store: Store) -> None:
        await put(store, finished("h1", "a", 1, branch="main", p95=100))
        await put(store, finished("h2", "b", 2, branch="trunk", p95=300))
        before = (await put(store, finished("e1", "x", 5, branch="feature", p95=300)))["data"]
        assert before["baseline"]["metrics"]["p95_latency_ms"] == 100  # main
        await put(store, deployed("dep1", "s1", "2026-02-06T10:00:00Z", repo="acme/shop", default_branch="trunk"))
        after = (await put(store, finished("e2", "y", 6, branch="feature", p95=300)))["data"]
        assert after["baseline"]["metrics"]["p95_latency_ms"] == 300  # trunk
        assert after["regression"] == {"regression": False, "reasons": []}

    backend.run(body)


def test_non_final_events_read_no_baseline(backend: Backend) -> None:
    async def body(store: Store) -> None:
        await put(store, finished("h1", "a", 1, p95=100))
        data = (await put(store, envelope("e1", "run.started", run_id="b", git=GIT, status="running")))["data"]
        assert "baseline" not in data and "regression" not in data

    backend.run(body)


def history_schema(tmp_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "plan.db")
    for version, _, sql in migrations("sqlite"):
        if version in (3, 4):
            for statement in sql.split(";\n"):
                conn.execute(statement)
    return conn


@pytest.mark.parametrize(
    ("sql", "args", "index"),
    [
        (BASELINE_ON_BRANCH, ("t", "main", 1.0, "k", 10), "runs_baseline"),
        (BASELINE_ANY_BRANCH, ("t", 1.0, "k", 10), "runs_previous"),
        (LATEST_DEPLOYMENT, ("acme/shop", 1.0), "deployments_latest"),
        (LATEST_DEPLOYMENT_IN_ENV, ("acme/shop", "production", 1.0), "deployments_latest_env"),
        (DEFAULT_BRANCH, ("acme/shop",), "deployments_latest"),
    ],
)
def test_each_history_read_searches_an_index(tmp_path: Path, sql: str, args: Any, index: str) -> None:
    """Each read walks its index backwards from the bound, whatever the history (no scan, no sort)."""
    plan = " ".join(row[3] for row in history_schema(tmp_path).execute("EXPLAIN QUERY PLAN " + sql, args))
    assert f"USING INDEX {index} (" in plan and "TEMP B-TREE" not in plan, plan


def test_each_history_read_can_use_an_index_on_postgres(pg_server: PostgresServer, pg_database: str) -> None:
    """The same reads on PostgreSQL: with sequential scans priced out (the tables are empty, so the
    planner would rather scan), each one is answered from an index, in order, without a sort."""
    import psycopg

    pg_server.reset(pg_database)
    backend = Backend("postgres", pg_database)

    from receiver.store.sql import pg

    async def migrated(store: Store) -> None:  # opening the store applies the migrations
        pass

    backend.run(migrated)
    reads = [
        (BASELINE_ON_BRANCH, ("t", "main", 1.0, "k", 10)),
        (BASELINE_ANY_BRANCH, ("t", 1.0, "k", 10)),
        (LATEST_DEPLOYMENT, ("acme/shop", 1.0)),
        (LATEST_DEPLOYMENT_IN_ENV, ("acme/shop", "production", 1.0)),
        (DEFAULT_BRANCH, ("acme/shop",)),
    ]
    with psycopg.connect(backend.url) as conn:
        conn.execute("SET enable_seqscan = off")
        for sql, args in reads:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + pg(sql), args).fetchall())
            assert "Index" in plan and "Sort" not in plan, (sql, plan)
