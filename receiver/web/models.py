"""The shapes of the JSON API: pydantic models the handlers build their answers from,
and the source of ``/api/openapi.json`` (see ``openapi.py``). One definition each."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["queued", "in_progress", "retrying", "succeeded", "dead", "superseded", "suppressed", "silenced"]
Time = str  # RFC 3339 UTC, milliseconds: 2026-02-06T12:00:00.000Z


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(Model):
    """Every refused request (4xx)."""

    error: str = Field(description="what went wrong, for people")
    code: str = Field(description="what went wrong, for programs: bad_limit, unauthorized, throttled, …")


class Attempt(Model):
    number: int
    started_at: Time
    duration_ms: float
    outcome: str
    status: int | None = Field(description="the HTTP status the sink answered, if any")
    error_class: str | None
    reason: str | None
    response_excerpt: str | None


class Group(Model):
    """The group a grouped action (rules: group:) sent as one delivery."""

    id: str
    key: list[Any] = Field(description="the group's by: values")
    count: int = Field(description="every member event")
    first_at: Time
    sent_at: Time | None
    events: list[str] = Field(description="member event ids, oldest first (the first GROUP_MEMBERS_SHOWN)")


class Delivery(Model):
    """One (event, rule action, sink) job with its attempt log (attempts were redacted when recorded)."""

    id: str
    event_id: str
    rule: str
    action_index: int
    sink: str
    state: State
    attempts: int
    emit: str | None
    last_error: str | None
    last_reason: str | None = Field(description="the last attempt's reason: why a dead delivery died")
    created_at: Time
    updated_at: Time
    next_attempt_at: Time
    replay_of: str | None
    params: dict[str, Any] | None
    attempt_log: list[Attempt]
    quieted_by: str | None = Field(
        default=None, description="suppressed: the delivery that was sent; silenced: the silence (none for mute_time)"
    )
    group: Group | None = Field(default=None, description="a grouped action's delivery: the group it sent")


class EventSummary(Model):
    """What a list of events shows: no body, headers or envelope."""

    id: str
    source: str
    kind: str
    type: str
    subject: str | None
    received_at: Time
    normalize_error: str | None
    parent_id: str | None
    correlation_id: str
    depth: int
    rules_version: str | None
    matched_rules: list[str]
    run_name: str | None = Field(description="data.run.name")
    outcome: str | None = Field(description="data.run.outcome")
    delivery_states: dict[str, int] | None = Field(
        default=None, description="lists only: how many of the event's deliveries are in each state"
    )
    render_notes: list[str] | None = Field(
        default=None, description="stored values strict JSON cannot hold (NaN, lone surrogates, deep nesting)"
    )


class Event(EventSummary):
    """One event in full: envelope, stored headers (credentials were dropped at ingest), raw body."""

    headers: dict[str, str]
    envelope: dict[str, Any]
    body_size: int
    body: str | None = Field(description="the raw body when it is text, else null")


class EventDetail(Model):
    event: Event
    deliveries: list[Delivery]
    more_deliveries: bool
    parent: EventSummary | None
    root: EventSummary | None
    children: list[EventSummary]


class EventList(Model):
    events: list[EventSummary]
    next_before: str | None = Field(description="pass as before= for the next (older) page; null: no more")
    scanned: int = Field(description="events looked at (a text search looks at more than it returns)")


class DeliveryList(Model):
    deliveries: list[Delivery]


class PlannedDelivery(Model):
    id: str
    rule: str
    action_index: int
    sink: str
    state: State
    last_error: str | None
    replay_of: str | None


class ReplayPlan(Model):
    event_id: str = Field(description="the event routed: with renormalize, the new event")
    rules_version: str | None
    matched_rules: list[str]
    deliveries: list[PlannedDelivery]
    renormalized_from: str | None = Field(
        default=None, description="with renormalize: the stored event whose raw body and headers were normalized again"
    )
    changed: list[str] | None = Field(
        default=None, description="with renormalize: the envelope fields that differ from the original's"
    )


class RetriedDelivery(Delivery):
    message: str = Field(description="what the retry did: queued again, or re-rendered under the rules in force")


class RetriedDead(Model):
    sink: str
    requeued: int = Field(description="dead deliveries put back in the queue")


class Stats(BaseModel):
    """Counts; other parts of the daemon may add keys of their own (extra keys are allowed)."""

    model_config = ConfigDict(extra="allow")
    events: int
    deliveries: dict[str, int] = Field(description="deliveries per state")
    dead_by_sink: dict[str, int] = Field(description="dead deliveries per sink (sinks with none are left out)")


class RunGit(Model):
    repo: str | None
    sha: str | None
    branch: str | None
    pr: int | None


class Run(Model):
    """One test run (one row per source and platform run id), as its events left it."""

    key: str = Field(description="the Hookyard run id, run_…")
    source: str
    platform: str
    run_id: str = Field(description="the platform's own run id (data.run.id)")
    name: str | None
    project: str | None
    status: str | None
    outcome: str | None
    final: bool = Field(description="an event said how the run ended")
    url: str | None
    started_at: Time | None
    finished_at: Time | None
    duration_ms: float | None
    git: RunGit
    metrics: dict[str, Any] | None = Field(description="the latest data.metrics")
    counts: dict[str, Any] | None = Field(description="the latest data.counts")
    previous_key: str | None = Field(description="the previous finished run of the same test")
    transition: Literal["first", "broken", "fixed", "still_failing", "still_passing"] | None
    first_event_id: str
    last_event_id: str
    trigger_event_id: str | None = Field(description="the event whose follow-up call started this run")
    trigger_delivery_id: str | None = Field(description="the delivery (follow-up call) that started this run")
    correlation_id: str | None = Field(description="the chain of the event whose follow-up call started this run")
    created_at: Time
    updated_at: Time


class RunList(Model):
    runs: list[Run]
    next_before: str | None = Field(description="pass as before= for the next (older) page; null: no more")


class PollAttempt(Model):
    number: int
    at: Time
    status: int | None = Field(description="the HTTP status of the answer; null when none came")
    error_class: str | None = Field(description="http_<status>, transient, timeout, timed_out …; null: answered")
    events: int = Field(description="events the poll made")
    reason: str | None


class RunPoll(Model):
    """How Hookyard polls the run (README, "Polling")."""

    state: Literal["watching", "done", "gave_up"]
    summary: str = Field(description='e.g. "watching, next poll in 12 s, last answer 200"')
    platform: str
    sink: str
    started_at: Time
    next_poll_at: Time | None
    interval_seconds: float
    polls: int
    failures: int = Field(description="failed polls in a row")
    last_status: int | None
    last_error: str | None = Field(description="why the last poll failed (credentials redacted)")
    last_polled_at: Time | None
    history: list[PollAttempt] = Field(description="the latest polls, newest first")


class RunDetail(Model):
    run: Run
    events: list[EventSummary] = Field(description="the run's events, oldest first")
    poll: RunPoll | None = Field(default=None, description="the run's polling; null when it is not polled")


class Silence(Model):
    """A stored matcher set that keeps matching deliveries from being sent (recorded as silenced)."""

    id: str
    matchers: list[str] = Field(description="path=value (globs: * ?), path!=value, path=~regex, path!~regex; all hold")
    state: Literal["pending", "active", "expired"]
    starts_at: Time
    ends_at: Time
    comment: str
    created_by: str
    created_at: Time
    expired_at: Time | None


class SilenceList(Model):
    silences: list[Silence]


class NewSilence(Model):
    """``POST /api/silences``: ``duration`` (30m, 2h, 7d) or ``ends_at``; ``starts_at`` defaults to now."""

    matchers: list[str] = Field(min_length=1, max_length=20)
    comment: str = Field(min_length=1, max_length=1000)
    duration: str | None = None
    starts_at: Time | None = None
    ends_at: Time | None = None
    created_by: str | None = Field(default=None, max_length=100)
