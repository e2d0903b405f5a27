"""The store contract: what each consumer needs of a store, and :class:`Store`, their union,
which both backends implement (one contract test suite runs against each)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from receiver.store.base import (
    AttemptRow,
    Claimed,
    DeliveryQuery,
    DeliveryRow,
    EventQuery,
    EventRow,
    NewDelivery,
    NewEvent,
    Outcome,
    RepeatDecision,
    RepeatKey,
    RunRow,
    SaveResult,
    SilenceRow,
)
from receiver.store.groups import Flushed, GroupRenderer, GroupRow
from receiver.store.polls import NewPoll, Polled, PollHistoryRow, PollRow
from receiver.store.runs import RunQuery, RunStep


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


class RunStore(Protocol):
    """The run reads both backends implement."""

    async def list_runs(self, query: RunQuery) -> list[RunRow]: ...

    async def get_run(self, key: str) -> RunRow | None: ...

    async def run_events(self, key: str, limit: int) -> list[EventRow]: ...

    async def run_trend(self, run: RunRow, limit: int) -> list[RunRow]: ...

    async def run_event_ids(self, keys: Sequence[str]) -> dict[str, list[str]]: ...


class NoiseStore(Protocol):
    """Repeat suppression's notification log and silences (``noise.py``)."""

    async def repeat_reserve(
        self, key: RepeatKey, content_sha256: str, delivery_id: str, now: float, interval: float, hold_until: float
    ) -> RepeatDecision:
        """Whether ``delivery_id`` sends now; ``send`` reserves the key until ``hold_until`` (its
        lease), ended by the ``Outcome.repeat`` of its finish."""

    async def add_silence(self, silence: SilenceRow) -> None: ...

    async def expire_silence(self, silence_id: str, now: float) -> SilenceRow | None:
        """Expire a live silence; the row afterwards (None when there is no such silence)."""

    async def get_silence(self, silence_id: str) -> SilenceRow | None: ...

    async def live_silences(self, now: float) -> list[SilenceRow]:
        """Silences not expired and not ended (pending ones too), by start."""

    async def list_silences(self, limit: int = 200) -> list[SilenceRow]:
        """Every silence, newest first."""


class GroupStore(Protocol):
    """Groups of grouped actions (``store/groups.py``): joined at ``save_event``, flushed here."""

    async def flush_groups(self, now: float, limit: int, renderer: GroupRenderer) -> list[Flushed]:
        """Send (one delivery each, rendered by ``renderer``) or postpone up to ``limit`` due groups."""

    async def group_of_delivery(self, delivery_id: str) -> GroupRow | None: ...

    async def group_member_ids(self, group_id: str, limit: int) -> list[str]:
        """A group's member event ids, oldest first, at most ``limit``."""

    async def open_groups(self, limit: int) -> list[GroupRow]: ...


class PollStore(Protocol):
    """The poll schedule (``receiver/polling/engine.py``; statements in ``store/polls.py``)."""

    async def add_polls(self, polls: Sequence[NewPoll]) -> int:
        """Start watching runs (those watched already are left as they are); how many were added."""

    async def claim_polls(self, now: float, limit: int, lease_seconds: float, owner: str) -> list[PollRow]:
        """Lease up to ``limit`` due schedules (and those whose holder's lease ran out), due order."""

    async def renew_poll(self, source_id: str, run_id: str, owner: str, until: float) -> bool: ...

    async def finish_poll(self, source_id: str, run_id: str, owner: str, polled: Polled) -> bool:
        """Record a poll and give the row back; False when the lease was lost."""

    async def get_poll(self, source_id: str, run_id: str) -> PollRow | None: ...

    async def poll_history(self, source_id: str, run_id: str, limit: int) -> list[PollHistoryRow]:
        """Newest first."""

    async def count_watching(self) -> int: ...


# --- the trigger: a follow-up call that started a run (receiver/delivery/track_run.py) ---------


class Store(EventStore, DeliveryStore, WebStore, RunStore, NoiseStore, GroupStore, PollStore, Protocol):
    """Everything a store does: both backends implement all of it (``open_store`` returns either
    as a ``Store``, so mypy checks each), and every consumer takes it as it is."""
