"""The store interface and its row types. All SQL lives in this package.

Each consumer-sized protocol here (events, the delivery queue, the web page's keys and
sessions; the run reads in ``runs.py``) is part of :class:`receiver.store.Store`, their union,
which both backends implement; one contract test suite runs against each.
``save_event`` is the durability point of the whole daemon: when it returns, the
event and its planned deliveries are committed to disk in one transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from receiver.store.runs import RunStep, TriggeredRun
    from receiver.store.runs_history import Deployment

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


def ignore_timing(seconds: float) -> None:
    """The default ``observe_write`` of a store: the app swaps in its metrics."""


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


class EventStore(Protocol):
    """Events: the lifecycle, saving (the durability point) and the reads."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise unless the store accepts a write transaction right now."""

    def on_failure(self, callback: Callable[[str], None]) -> None:
        """Have ``callback`` told (once, with a one-line reason) if the store stops being able to
        write for good while open, e.g. its writer task died: the process should then exit."""

    async def save_event(
        self, event: NewEvent, deliveries: Sequence[NewDelivery] = (), *, run: RunStep | None = None
    ) -> SaveResult:
        """Store ``event`` unless it is a redelivery. With ``run``, the event's run is merged and the
        event enriched and planned by ``run`` in the same transaction (``deliveries`` is then unused)."""

    async def get_event(self, event_id: str) -> EventRow | None: ...

    async def list_events(self, query: EventQuery) -> list[EventRow]: ...

    async def children(self, event_id: str, limit: int) -> list[EventRow]:
        """The events derived from ``event_id`` (its ``parent_id``), oldest first, at most ``limit``."""

    async def count_events(self) -> int: ...


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


class DeliveryStore(Protocol):
    """The delivery queue operations (both backends)."""

    async def claim_due(self, now: float, limit: int, lease_seconds: float, owner: str) -> list[Claimed]: ...

    async def postpone(self, delivery_id: str, owner: str, until: float) -> bool:
        """Give a claimed delivery back, due at ``until``, without counting an attempt."""

    async def renew(self, delivery_id: str, owner: str, until: float) -> bool:
        """Extend the lease of a delivery still being sent; False when it is no longer ours."""

    async def finish(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        """Record an attempt; False when the lease was lost (another worker owns it now)."""

    async def newer_succeeded(self, ordering_key: str, ordering_time: float, delivery_id: str) -> bool: ...

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None: ...

    async def list_deliveries(self, query: DeliveryQuery) -> list[DeliveryRow]: ...

    async def attempts_for(self, delivery_ids: Sequence[str]) -> dict[str, list[AttemptRow]]: ...

    async def requeue(self, delivery_id: str, now: float, params: dict[str, Any] | None = None) -> bool:
        """A dead delivery goes back to the queue with a fresh attempt budget; ``params``
        (when given) replace its rendered parameters (a retry that re-rendered them)."""

    async def add_deliveries(self, event_id: str, deliveries: Sequence[NewDelivery], now: float) -> None: ...

    async def delivery_counts(self) -> dict[str, int]: ...

    async def event_delivery_states(self, event_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per event: how many of its deliveries are in each state (events without any are absent)."""

    async def dead_by_sink(self) -> dict[str, int]: ...

    async def requeue_dead(self, sink_id: str, now: float) -> int:
        """Every dead delivery of a sink goes back to the queue (as ``requeue``); how many did."""
    async def oldest_due(self, now: float) -> float | None:
        """When the longest-waiting due delivery became due (None when nothing is due)."""


class WebStore(Protocol):
    """What the web page's processes share: keys made once, and login sessions."""

    async def web_key(self, name: str, candidate: str, now: float) -> str:
        """The stored key ``name``; ``candidate`` is stored first when there is none yet."""

    async def add_session(self, id_sha256: str, now: float, expires_at: float) -> None:
        """Store a session (and forget the expired ones)."""

    async def session_alive(self, id_sha256: str, now: float) -> bool: ...

    async def end_session(self, id_sha256: str) -> None: ...
