"""What a run event reads besides its run: the deployment that gives it a commit, and its baseline.

Run tracking says what it needs (:class:`Wants`, from ``RunStep.wants``); the store reads it
inside the event's transaction (:func:`history`, one algorithm for both backends) and hands the
:class:`History` to ``RunStep.complete``, so what an event is enriched with is consistent with
what the same transaction writes. Deployments are recorded by :func:`record_sqlite` /
:func:`record_postgres` in the transaction that stores a ``deployment.success`` event.
Statements are written once with ``?`` placeholders (``pg`` turns them into psycopg's).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from receiver.store.base import Deployment
from receiver.store.sql import pg, pg_clean
from receiver.store.steps import Statement, Steps, drive_postgres, drive_sqlite, rows

if TYPE_CHECKING:  # SQLite stores do not need psycopg imported
    from receiver.store.pg_pool import Conn

DEPLOYMENT_COLUMNS = "event_id, repo, environment, sha, ref, default_branch, deployed_at"
INSERT_DEPLOYMENT = f"INSERT INTO deployments ({DEPLOYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
# The newest deployment at or before a time; ties (one second) by event id, which is time-ordered.
_LATEST = (
    f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE repo = ? {{env}}AND deployed_at <= ? "
    "ORDER BY deployed_at DESC, event_id DESC LIMIT 1"
)
LATEST_DEPLOYMENT = _LATEST.format(env="")
LATEST_DEPLOYMENT_IN_ENV = _LATEST.format(env="AND environment = ? ")
DEFAULT_BRANCH = (
    "SELECT default_branch FROM deployments WHERE repo = ? AND default_branch IS NOT NULL "
    "ORDER BY deployed_at DESC, event_id DESC LIMIT 1"
)
# The last N passing runs of a test that ended before this one, newest first. The literal
# ``verdict = 'passed'`` lets SQLite use the partial indexes (a ``?`` would not prove it): on a
# branch runs_baseline (0004), on any branch runs_previous (0003, the passing runs filtered).
# The JSON columns as text on both backends (psycopg would decode json): run tracking reads each
# distinct text once (runs/baseline.py), and a test's baseline runs recur from one event to the next.
_BASELINE = (
    "SELECT CAST(metrics AS TEXT), CAST(counts AS TEXT), duration_ms FROM runs "
    "WHERE test_key = ? {branch}AND verdict = 'passed' "
    "AND (ended_at, key) < (?, ?) ORDER BY ended_at DESC, key DESC LIMIT ?"
)
BASELINE_ANY_BRANCH = _BASELINE.format(branch="")
BASELINE_ON_BRANCH = _BASELINE.format(branch="AND branch = ? ")


# Wants, History and their parts are made for every run event: named tuples cost a fraction of a
# frozen dataclass's ``__init__`` (which sets each field through ``object.__setattr__``).
class DeploymentWant(NamedTuple):
    """The newest deployment of ``repo`` (in ``environment`` when given) at or before ``at``."""

    repo: str
    environment: str | None
    at: float


class BaselineWant(NamedTuple):
    """The last ``runs`` passing runs of a test that ended before (``ended_at``, ``key``).

    On ``branch``; when it is None, on ``repo``'s default branch if a deployment event named it,
    else on ``fallback``; with ``any_branch`` on every branch (a run that knows no branch)."""

    test_key: str
    ended_at: float
    key: str
    runs: int
    branch: str | None = None
    repo: str | None = None
    fallback: str = "main"
    any_branch: bool = False


class Wants(NamedTuple):
    deployment: DeploymentWant | None = None
    baseline: BaselineWant | None = None


# What a baseline run contributes: its latest metrics and counts as stored (JSON text), and its
# duration; the rows as fetched (ten for every final event: no object made per row).
Sample = tuple[str | None, str | None, float | None]


class History(NamedTuple):
    deployment: Deployment | None = None
    baseline_branch: str | None = None  # None: any branch
    samples: Sequence[Sample] = ()


def _baseline_query(want: BaselineWant, branch: str | None) -> tuple[str, tuple[Any, ...]]:
    order = (want.ended_at, want.key, want.runs)
    if branch is None:
        return BASELINE_ANY_BRANCH, (want.test_key, *order)
    return BASELINE_ON_BRANCH, (want.test_key, branch, *order)


def _deployment_query(want: DeploymentWant) -> tuple[str, tuple[Any, ...]]:
    if want.environment is None:
        return LATEST_DEPLOYMENT, (want.repo, want.at)
    return LATEST_DEPLOYMENT_IN_ENV, (want.repo, want.environment, want.at)


def history(wants: Wants | None) -> Steps[History | None]:
    """What ``wants`` asks for, read in the caller's transaction by either backend (``steps.py``)."""
    if wants is None:
        return None
    deployment = None
    if wants.deployment is not None:
        found = rows((yield Statement(*_deployment_query(wants.deployment), rows=True)))
        deployment = Deployment(*found[0]) if found else None
    want = wants.baseline
    if want is None:
        return History(deployment)
    branch = want.branch
    if branch is None and not want.any_branch:
        default = rows((yield Statement(DEFAULT_BRANCH, (want.repo,), rows=True))) if want.repo else []
        branch = default[0][0] if default else want.fallback
    found = rows((yield Statement(*_baseline_query(want, None if want.any_branch else branch), rows=True)))
    return History(deployment, branch, found)


def read_sqlite(conn: sqlite3.Connection, wants: Wants | None) -> History | None:
    return drive_sqlite(conn, history(wants))


async def read_postgres(conn: Conn, wants: Wants | None) -> History | None:
    return await drive_postgres(conn, history(wants))


def record_sqlite(conn: sqlite3.Connection, deployment: Deployment) -> None:
    conn.execute(INSERT_DEPLOYMENT, _deployment_args(deployment))


async def record_postgres(conn: Conn, deployment: Deployment) -> None:
    await conn.execute(pg(INSERT_DEPLOYMENT), pg_clean(_deployment_args(deployment)))


def _deployment_args(d: Deployment) -> tuple[Any, ...]:
    return (d.event_id, d.repo, d.environment, d.sha, d.ref, d.default_branch, d.deployed_at)
