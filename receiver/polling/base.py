"""The poller interface: one module per platform, one registry (``receiver.polling.POLLERS``).

Most platforms send no webhooks (../shared/platform-docs/): Hookyard follows their runs by
asking. A poller knows one platform's API: given a run id and what it saw last time (its
``cursor``), it fetches the run's current state and says what changed, as normalized events
in the same vocabulary the webhook adapters use. It never schedules, retries, sleeps or
stores: the poll engine does that (leases, backoff, ``Retry-After``, the sink's rate
limit, ``max_duration``), so a poller is a pure mapping from answers to observations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from receiver.events import Normalized
from receiver.sinks.base import SendResult

# GET ``path`` (joined to the sink's base URL, query in ``params``) with the sink's auth,
# outbound guard and timeout. Answers the 2xx as SendResult (``body`` is the parsed JSON);
# raises DeliveryError for anything else (``status``, ``retry_after`` and ``retryable`` set
# as for deliveries). The engine wraps it with the sink's rate limiter.
Fetch = Callable[[str, Mapping[str, str]], Awaitable[SendResult]]


@dataclass(frozen=True)
class Observation:
    """One change seen on the platform, to become one event.

    ``key`` names the observed fact within the run (``status:running``, ``bug:b-17``): the
    engine makes at most one event per (run, key), so seeing the same state twice, or after
    a restart, makes none."""

    key: str
    normalized: Normalized


@dataclass(frozen=True)
class PollResult:
    """What one poll of one run found.

    ``answer`` is the raw platform answer (JSON-able) stored as the body of the events it
    caused; ``final`` stops the polling (the run reached a final status); ``cursor`` is kept
    with the schedule and handed to the next poll (e.g. the bug ids already reported)."""

    answer: Any
    observations: list[Observation]
    final: bool
    cursor: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Discovered:
    """A run found by ``watch:`` (a platform's list endpoint): the engine starts polling it."""

    run_id: str
    status: str | None = None


class Poller(Protocol):
    platform: str

    async def poll(self, run_id: str, cursor: Mapping[str, Any], fetch: Fetch) -> PollResult:
        """The run's current state; raises DeliveryError when the platform did not answer it."""

    async def discover(self, options: Mapping[str, Any], fetch: Fetch) -> list[Discovered]:
        """Runs the platform lists under ``watch:`` ``options`` (raise NotImplementedError
        where the platform has no list endpoint; config refuses ``watch:`` for it at load)."""


@dataclass(frozen=True)
class PollerSpec:
    platform: str
    create: Callable[[], Poller]
    # Whether ``discover`` works (the platform documents a list endpoint).
    can_discover: bool = False
    # The model of a source's ``watch:`` options for ``discover`` (strict: unknown keys are errors).
    watch_options: type[BaseModel] | None = None
    # Whether ``poll`` reads the runs a start-run call names: a run a trigger starts on the
    # platform is then polled (Automated Future's API reads results, not the runs it starts).
    follows_started_runs: bool = True


def status_step(cursor: Mapping[str, Any], status: str | None) -> tuple[str | None, dict[str, Any]]:
    """Whether a run's status changed since ``cursor``: the observation key of the change (None
    when it did not) and the status part of the next cursor.

    The first time a run reaches a status the key is ``status:<word>``; coming back to one
    (running → paused → running) is ``status:<word>#<n>``, so a return is an event again while
    the same state seen twice (or after a restart) is not."""
    visits: dict[str, int] = dict(cursor.get("visits") or {})
    if status is None or status == cursor.get("status"):
        return None, {"status": cursor.get("status"), "visits": visits}
    visits[status] = n = visits.get(status, 0) + 1
    return (f"status:{status}" if n == 1 else f"status:{status}#{n}"), {"status": status, "visits": visits}
