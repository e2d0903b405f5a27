"""Run tracking at ingest: merge each run event into its run row and enrich the event.

``save`` is the one call ingest makes. An event whose envelope names a platform run
(``data.run.id``) is stored through a :class:`Track`, which the store calls inside the
event's transaction, after the redelivery check: ``merge`` folds the event into the
current row, ``complete`` enriches the envelope (``data.run.key``, the run's git fields,
``previous``/``transition`` on final events) and only then plans it, so rules see the
enriched event and the stored envelope is the routed one. Between the two the store reads
what ``wants`` asks for (``receiver.store.runs_history``): the deployment that gives a run
without a commit its sha (``runs/deployment.py``) and, on final events, the baseline runs
(``data.baseline``/``data.regression``, ``runs/baseline.py``).

Ordering, so that out-of-order and repeated events converge on the same row:
* a final event (outcome or finish time) beats a non-final one whatever their times;
* between two final or two non-final events, the later platform time (``time``) wins,
  the later arrival on a tie;
* the losing side still fills what the winner does not know (null fields).

Polls and webhooks (issue #14) report the same transitions: a lifecycle event (``run.*``) that
only repeats the run's status, when the event or the row's status came from a poll
(``platform_event: "poll"``, the row's ``status_by``), makes no second event: the store answers
it as a duplicate of the run's last event (``Track.repeats``). So does a late webhook for an
earlier transition of a run a poll saw finish, and a stale poll of a finished run. Between
webhooks nothing changes: two webhooks of one status are two events, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from receiver.ids import new_id
from receiver.rules import Plan
from receiver.runs import baseline as baselines
from receiver.runs import deployment as deployments
from receiver.runs.baseline import BaselineOptions
from receiver.runs.deployment import GitOptions
from receiver.runs.model import GIT_KEYS, epoch, is_final, series_key, transition, verdict
from receiver.runs.watch import SourcePoll
from receiver.sources import bug0_github
from receiver.store import Store
from receiver.store.base import NewDelivery, NewEvent, SaveResult
from receiver.store.runs import CommitLink, RunRow
from receiver.store.runs_history import BaselineWant, History, Wants

Planner = Callable[[Mapping[str, Any]], Plan]
T = TypeVar("T")


# Fields an event may set; the rest of a row is bookkeeping.
_MERGED = ("name", "project", "status", "outcome", "url", "started_at", "finished_at", "duration_ms",
           *GIT_KEYS, "metrics", "counts")  # fmt: skip


@dataclass
class Track:
    """One event's update of its run (a ``receiver.store.runs.RunStep``)."""

    source_id: str
    run_id: str
    fresh: RunRow  # the row this event alone describes
    wants_previous: bool  # a final event carries previous/transition
    planner: Planner
    planned: int = 0  # deliveries the last plan (the one stored) queued
    git: GitOptions | None = None  # the source's ``git:`` (deployment commits)
    baseline: BaselineOptions = baselines.DEFAULTS  # the source's ``baseline:``
    link: CommitLink | None = None  # a run known by its commit: the one Hookyard started for it (below)
    lifecycle: bool = False  # a ``run.*`` event: one of the transitions a poll also reports
    watch: str | None = None  # the sink to poll the run through from now on (the source's ``poll:``)

    def repeats(self, current: RunRow) -> bool:
        fresh = self.fresh
        if not self.lifecycle or fresh.status is None or "poll" not in (fresh.status_by, current.status_by):
            return False
        return fresh.status == current.status or (current.final and not fresh.final)

    def merge(self, current: RunRow | None) -> RunRow:
        fresh = self.fresh
        if current is None:
            return _copy(fresh)  # a copy: ``complete`` fills it in, and a retried transaction merges again
        wins = fresh.final and not current.final
        if fresh.final == current.final:
            wins = fresh.event_time >= current.event_time
        win, lose = (fresh, current) if wins else (current, fresh)
        merged = _copy(current)
        values = merged.__dict__
        for f in _MERGED:
            value = getattr(win, f)
            values[f] = value if value is not None else getattr(lose, f)
        values.update(final=win.final, event_time=win.event_time, last_event_id=fresh.last_event_id,
                      updated_at=fresh.updated_at)  # fmt: skip
        values["status_by"] = win.status_by if win.status is not None else lose.status_by
        _derive(values)
        return merged

    def wants(self, run: RunRow) -> Wants | None:
        """What the store should read for ``run`` (merged) before ``complete``: the deployment that
        gives a run without a commit its sha, and on final events the baseline runs."""
        deployment = deployments.want(self.git, run)
        base = self.baseline
        baseline = None
        if self.wants_previous and run.test_key is not None and run.ended_at is not None and base.runs > 0:
            # A run that knows no branch (and a source that names none) is compared with every branch.
            baseline = BaselineWant(run.test_key, run.ended_at, run.key, base.runs, branch=base.branch,
                                    repo=run.repo, fallback=baselines.DEFAULT_BRANCH,
                                    any_branch=base.branch is None and run.branch is None)  # fmt: skip
        return Wants(deployment, baseline) if deployment or baseline else None

    def complete(
        self, event: NewEvent, run: RunRow, previous: RunRow | None, history: History | None = None
    ) -> tuple[NewEvent, Sequence[NewDelivery], RunRow]:
        inferred = None
        if history is not None and history.deployment is not None and run.sha is None:
            run.sha = history.deployment.sha  # ``run`` is this step's merged row (see below)
            inferred = "deployment"
        if self.wants_previous:
            # ``run`` is the row ``merge`` just built for this step: completing it in place is safe.
            run.previous_key = previous.key if previous else None
            # Without a name or project there is no "same test" to compare with.
            run.transition = transition(previous.verdict if previous else None, run.verdict) if run.test_key else None
        envelope = enrich(event.envelope, run, previous, final=self.wants_previous, inferred=inferred)
        if self.wants_previous and run.test_key is not None and self.baseline.runs > 0:
            samples = history.samples if history is not None else []
            envelope["data"].update(baselines.judge(run, samples, self.baseline))
        plan = self.planner(envelope)
        self.planned = plan.queued
        return _planned(event, envelope, plan), plan.deliveries, run


def _copy(row: T) -> T:
    """A shallow copy of a dataclass instance without re-running ``__init__``: ``dataclasses.replace``
    and ``Cls(**vars(x))`` check and assign field by field, ~10 µs per event on the ingest path."""
    copy = object.__new__(type(row))
    copy.__dict__.update(row.__dict__)
    return copy


def _planned(event: NewEvent, envelope: dict[str, Any], plan: Plan) -> NewEvent:
    """``event`` with the envelope as routed and its plan (a copy: ``NewEvent`` is frozen)."""
    planned = _copy(event)
    planned.__dict__.update(envelope=envelope, rules_version=plan.rules_version, matched_rules=plan.matched_rules)
    return planned


def _derive(values: dict[str, Any]) -> None:
    """Set the columns computed from the others in a row's ``values`` (its ``__dict__``)."""
    final = values["final"]
    outcome = values["outcome"]
    values["ended_at"] = (epoch(values["finished_at"]) or values["event_time"]) if final else None
    values["verdict"] = verdict(outcome) if final else None
    values["test_key"] = series_key(values["source_id"], values["name"], values["project"])


def track(
    envelope: Mapping[str, Any],
    now: float,
    planner: Planner,
    git_options: GitOptions | None = None,
    baseline_options: BaselineOptions | None = None,
    poll: SourcePoll | None = None,
) -> Track | None:
    """The run update an event makes; None when it names no platform run. ``poll``: the source's
    ``poll:`` (which event types start polling the run, through which sink)."""
    data = envelope.get("data")
    section = data.get("run") if isinstance(data, dict) else None
    run_id = section.get("id") if isinstance(section, dict) else None
    if run_id is None:
        return None
    assert isinstance(data, dict) and isinstance(section, dict)
    git = data.get("git") or {}
    final = is_final(section)
    fresh = RunRow(
        key=new_id("run", now), source_id=envelope["source"], run_id=str(run_id), platform=envelope["platform"],
        name=section.get("name"), project=section.get("project"), status=section.get("status"),
        outcome=section.get("outcome"), url=section.get("url"), started_at=section.get("started_at"),
        finished_at=section.get("finished_at"), duration_ms=_real(section.get("duration_ms")),
        repo=git.get("repo"), sha=git.get("sha"), branch=git.get("branch"), pr=_int64(git.get("pr")),
        metrics=data.get("metrics") or None, counts=data.get("counts") or None, final=final,
        event_time=epoch(envelope.get("time")) or now, ended_at=None, verdict=None, test_key=None,
        previous_key=None, transition=None, first_event_id=envelope["id"], last_event_id=envelope["id"],
        trigger_event_id=None, trigger_delivery_id=None, created_at=now, updated_at=now,
        status_by="poll" if envelope.get("platform_event") == "poll" else None,
    )  # fmt: skip
    if git_options is not None:  # the source's repo and branch, where the event names none
        fresh.repo = fresh.repo or git_options.repo
        fresh.branch = fresh.branch or git_options.branch
    _derive(fresh.__dict__)
    link = None
    if fresh.platform == bug0_github.PLATFORM and envelope.get("platform_event") in bug0_github.EVENTS:
        # Bug0 reports through GitHub and names no run of its own (sources/bug0_github.py).
        link = CommitLink(fresh.platform, fresh.repo, fresh.sha) if fresh.repo and fresh.sha else None
    kind = envelope["type"]
    watch = poll.sink if poll is not None and not final and kind in poll.types else None
    return Track(envelope["source"], str(run_id), fresh, final, planner, git=git_options,
                 baseline=baseline_options or baselines.DEFAULTS, link=link, lifecycle=kind.startswith("run."),
                 watch=watch)  # fmt: skip


def _int64(value: Any) -> int | None:
    """A column value: JSON allows any integer, the stores' INTEGER/BIGINT 64 bits (the envelope
    keeps the original)."""
    return value if isinstance(value, int) and -(2**63) <= value < 2**63 else None


def _real(value: Any) -> float | None:
    try:
        number = float(value) if value is not None else None
    except OverflowError:  # an integer beyond a double's range
        return None
    return number if number is not None and math.isfinite(number) else None


def enrich(
    envelope: Mapping[str, Any], run: RunRow, previous: RunRow | None, *, final: bool, inferred: str | None = None
) -> dict[str, Any]:
    """The envelope as routed and stored: ``data.run.key``, the run's git fields where the
    event lacks them (``inferred_from``; ``inferred`` names where a sha this event brought to the
    run came from, e.g. ``deployment``), and on final events ``previous``/``transition``."""
    data = dict(envelope["data"])
    # The run's own id: an event linked to a run by its commit names the run it was linked to.
    section = {**data["run"], "id": run.run_id, "key": run.key}
    if final:
        section["previous"] = previous_dict(previous)
        section["transition"] = run.transition
    data["run"] = section
    own = data.get("git") or {}
    known = {k: getattr(run, k) for k in GIT_KEYS}
    if any(own.get(k) is not None for k in GIT_KEYS) or any(v is not None for v in known.values()):
        merged = {k: own.get(k) if own.get(k) is not None else known[k] for k in GIT_KEYS}
        # Named after where the commit (sha) came from; other missing keys are filled either way.
        carried = own.get("sha") is not None or (merged["sha"] is None and any(own.get(k) for k in GIT_KEYS))
        # A run Hookyard started keeps the commit its trigger named (unless the platform said another).
        came = "trigger" if run.trigger_sha is not None and merged["sha"] == run.trigger_sha else "run"
        data["git"] = {**own, **merged, "inferred_from": inferred or ("event" if carried else came)}
    return {**envelope, "data": data}


def previous_dict(run: RunRow | None) -> dict[str, Any] | None:
    """What a final event says about the previous finished run of the same test."""
    if run is None:
        return None
    return {
        "key": run.key,
        "outcome": run.outcome,
        "metrics": run.metrics,
        "git": {k: getattr(run, k) for k in GIT_KEYS},
        "url": run.url,
        "finished_at": run.finished_at,
    }


async def save(
    store: Store,
    event: NewEvent,
    planner: Planner,
    now: float,
    *,
    git: GitOptions | None = None,
    baseline: BaselineOptions | None = None,
    poll: SourcePoll | None = None,
) -> tuple[SaveResult, int]:
    """Store ``event`` (planned by ``planner``), tracking its run when it names one, with its
    source's ``git``, ``baseline`` and ``poll`` options. Returns the result and how many deliveries
    were queued with it (grouped actions' events join a group instead)."""
    deployed = deployments.deployment_of(event.envelope, now)
    if deployed is not None:  # recorded in the event's transaction, behind its redelivery check
        event = _copy(event)
        event.__dict__["deployment"] = deployed
    step = track(event.envelope, now, planner, git, baseline, poll)
    if step is None:
        plan = planner(event.envelope)
        return await store.save_event(_planned(event, event.envelope, plan), plan.deliveries), plan.queued
    result = await store.save_event(event, run=step)
    return result, step.planned
