"""The store interface and its row types. All SQL lives in this package.

Each consumer-sized protocol here (events, the delivery queue, the web page's keys and
sessions; the run reads in ``runs.py``) is part of :class:`receiver.store.Store`, their union,
which both backends implement; one contract test suite runs against each.
``save_event`` is the durability point of the whole daemon: when it returns, the
event and its planned deliveries are committed to disk in one transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# storage.busy_timeout_seconds: a write waits this long for a lock another process holds.
DEFAULT_BUSY_TIMEOUT = 5.0
# storage.connect_timeout_seconds: opening a PostgreSQL store keeps trying this long.
DEFAULT_CONNECT_TIMEOUT = 10.0


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    SUPERSEDED = "superseded"  # a newer update for the same target was already delivered
    SUPPRESSED = "suppressed"  # repeat_interval: the same content was sent within the interval
    SILENCED = "silenced"  # a silence or the action's mute_time held it back (never sent)


# The states a delivery ends in, and those of them a retry takes back to the queue.
FINAL_STATES = (
    DeliveryState.SUCCEEDED, DeliveryState.DEAD, DeliveryState.SUPERSEDED, DeliveryState.SUPPRESSED,
    DeliveryState.SILENCED,
)  # fmt: skip
RETRYABLE_STATES = (DeliveryState.DEAD, DeliveryState.SUPPRESSED, DeliveryState.SILENCED)


def ignore_timing(seconds: float) -> None:
    """The default ``observe_write`` of a store: the app swaps in its metrics."""


@dataclass(frozen=True)
class GroupJoin:
    """A grouped action's share of an event: the event joins the open group of (rule, action,
    ``key``), which a new group makes due ``wait`` seconds after its first member."""

    key: str
    wait: float


@dataclass(frozen=True)
class NewDelivery:
    id: str
    rule: str
    action_index: int
    sink_id: str
    emit: str | None
    params: dict[str, Any] | None
    state: DeliveryState = DeliveryState.QUEUED
    last_error: str | None = None
    ordering_key: str | None = None
    replay_of: str | None = None
    group: GroupJoin | None = None  # set: no delivery now, the event joins a group (store/groups.py)


@dataclass(frozen=True)
class NewEvent:
    """An event about to be stored. ``dedupe_keys`` name redeliveries exactly;
    ``dedupe_window`` (seconds) makes an identical body from the same source within
    that window a redelivery too (0 disables it)."""

    id: str
    source_id: str
    kind: str
    type: str
    subject: str | None
    received_at: float
    body: bytes
    body_sha256: str
    headers: dict[str, str]
    envelope: dict[str, Any]
    correlation_id: str
    normalize_error: str | None = None
    parent_id: str | None = None
    depth: int = 0
    rules_version: str | None = None
    matched_rules: list[str] = field(default_factory=list)
    dedupe_keys: Sequence[str] = ()
    dedupe_window: float = 0.0
    deployment: Deployment | None = None  # a deployment.success event's deployment, recorded with it


@dataclass(frozen=True)
class SaveResult:
    event_id: str
    duplicate: bool
    groups_opened: int = 0  # groups this event opened (grouped actions), for /metrics


@dataclass(frozen=True)
class EventRow:
    id: str
    source_id: str
    kind: str
    type: str
    subject: str | None
    received_at: float
    body: bytes
    headers: dict[str, str]
    envelope: dict[str, Any]
    normalize_error: str | None
    parent_id: str | None
    correlation_id: str
    depth: int
    rules_version: str | None
    matched_rules: list[str]


@dataclass(frozen=True)
class AttemptRow:
    delivery_id: str
    number: int
    started_at: float
    finished_at: float
    duration_ms: float
    outcome: str
    status_code: int | None
    error_class: str | None
    reason: str | None
    response_excerpt: str | None


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    event_id: str
    rule: str
    action_index: int
    sink_id: str
    emit: str | None
    params: dict[str, Any] | None
    state: DeliveryState
    attempts: int
    created_at: float
    updated_at: float
    next_attempt_at: float
    lease_until: float | None
    lease_owner: str | None
    last_error: str | None
    ordering_key: str | None
    ordering_time: float | None
    replay_of: str | None
    budget_start: float
    quieted_by: str | None = None  # 0010_noise.sql: the sent delivery (suppressed) or the silence (silenced)


# ``EventQuery.delivery`` beyond the states: no delivery at all, or none that succeeded
# (nobody was notified). See ``event_filter.py``.
NO_DELIVERIES = "none"
NOT_SUCCEEDED = "not_succeeded"


@dataclass(frozen=True)
class EventQuery:
    source: str | None = None
    type: str | None = None  # exact, or a glob with ``*`` and ``?`` (``run.*``)
    since: float | None = None
    before_id: str | None = None
    limit: int = 50
    # Through the event's deliveries: one to this sink / from this rule / in this state
    # (all three about the same delivery), or NO_DELIVERIES / NOT_SUCCEEDED among those.
    sink: str | None = None
    rule: str | None = None
    delivery: str | None = None
    outcome: str | None = None  # data.run.outcome of the envelope


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to one worker, with what sending it needs.

    ``envelope`` is the stored envelope without ``raw``: its params were rendered when
    the event was routed, so sending needs only ``data`` and the ids (not the body).
    """

    delivery: DeliveryRow
    envelope: dict[str, Any]
    depth: int
    event_source: str


@dataclass(frozen=True)
class DeliveryQuery:
    state: str | None = None
    event_id: str | None = None
    sink_id: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class Outcome:
    """How an attempt ends: the attempt row, the delivery's next state, and for a
    successful ``emit:`` the derived event and its deliveries, for a success that started a run
    on a platform that run (all stored atomically)."""

    attempt: AttemptRow
    state: DeliveryState
    next_attempt_at: float | None = None
    last_error: str | None = None
    derived: tuple[NewEvent, Sequence[NewDelivery]] | None = None
    started_run: TriggeredRun | None = None
    repeat: RepeatRecord | None = None  # an action with repeat_interval: the notification log's update
    quieted_by: str | None = None  # suppressed/silenced: the sent delivery or the silence


# --- noise control (receiver/store/noise.py has their statements) ----------------------------


@dataclass(frozen=True)
class RepeatKey:
    """What repeat suppression counts sends by: one action of one rule, per group key."""

    rule: str
    action_index: int
    group_key: str


@dataclass(frozen=True)
class RepeatDecision:
    """``send`` (the reservation is ours), ``suppress`` (``delivery_id`` sent the same content at
    ``sent_at``) or ``wait`` (``delivery_id`` is sending the same content right now, until ``until``)."""

    verdict: str
    delivery_id: str | None = None
    sent_at: float | None = None
    until: float | None = None


@dataclass(frozen=True)
class RepeatRecord:
    """How a delivery that held a reservation ended: ``sent`` records it as the key's last send."""

    key: RepeatKey
    content_sha256: str
    delivery_id: str
    sent: bool
    at: float


@dataclass(frozen=True)
class SilenceRow:
    id: str
    matchers: list[str]
    starts_at: float
    ends_at: float
    comment: str
    created_by: str
    created_at: float
    expired_at: float | None = None

    def state(self, now: float) -> str:
        """``pending`` (not started), ``active`` or ``expired`` (ended or expired by hand)."""
        if self.expired_at is not None or now >= self.ends_at:
            return "expired"
        return "active" if now >= self.starts_at else "pending"


# --- runs (receiver/store/runs.py has their statements) -------------------------------------


@dataclass
class RunRow:
    """One row of ``runs`` (mutable only while run tracking builds it, before it is written)."""

    key: str
    source_id: str
    run_id: str
    platform: str
    name: str | None
    project: str | None
    status: str | None
    outcome: str | None
    url: str | None
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    repo: str | None
    sha: str | None
    branch: str | None
    pr: int | None
    metrics: dict[str, Any] | None
    counts: dict[str, Any] | None
    final: bool
    event_time: float
    ended_at: float | None
    verdict: str | None
    test_key: str | None
    previous_key: str | None
    transition: str | None
    first_event_id: str
    last_event_id: str
    trigger_event_id: str | None
    trigger_delivery_id: str | None
    created_at: float
    updated_at: float
    # 0006_run_trigger.sql: the commit the trigger named (the run's sha "came from the trigger"
    # while it is still this one) and the correlation id of the chain that started the run.
    trigger_sha: str | None = None
    correlation_id: str | None = None
    # 0008_polls.sql: "poll" when a poll set the status (a webhook repeating it is a duplicate).
    status_by: str | None = None


@dataclass(frozen=True)
class TriggeredRun:
    """A run a successful delivery started on a platform: recorded in the transaction that records
    the success (``receiver/store/runs_trigger.py``). ``source_id`` keys the row as the run's own
    webhooks will (the sink's ``runs_source``), so they find it."""

    source_id: str
    run_id: str
    platform: str
    repo: str | None
    sha: str | None
    branch: str | None
    pr: int | None
    correlation_id: str | None
    trigger_event_id: str
    trigger_delivery_id: str
    now: float
    # The sink to poll the run through (its platform has a poller, receiver/polling): the schedule
    # row is inserted in the same transaction as the run row.
    poll_sink: str | None = None

    def new_row(self, key: str) -> RunRow:
        """The row of a run no event has described yet: ``queued``, with the trigger's git context.
        Its ``event_time`` is 0: the platform's first event wins whatever its time (our clock is
        not the platform's), and fills what the trigger could not know."""
        return RunRow(
            key=key, source_id=self.source_id, run_id=self.run_id, platform=self.platform, name=None, project=None,
            status="queued", outcome=None, url=None, started_at=None, finished_at=None, duration_ms=None,
            repo=self.repo, sha=self.sha, branch=self.branch, pr=self.pr, metrics=None, counts=None, final=False,
            event_time=0.0, ended_at=None, verdict=None, test_key=None, previous_key=None, transition=None,
            first_event_id=self.trigger_event_id, last_event_id=self.trigger_event_id,
            trigger_event_id=self.trigger_event_id, trigger_delivery_id=self.trigger_delivery_id,
            created_at=self.now, updated_at=self.now, trigger_sha=self.sha, correlation_id=self.correlation_id,
        )  # fmt: skip


@dataclass(frozen=True)
class Deployment:
    """One successful deployment (a row of ``deployments``)."""

    event_id: str
    repo: str
    environment: str | None
    sha: str
    ref: str | None
    default_branch: str | None
    deployed_at: float
