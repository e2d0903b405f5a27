"""``watch:`` on a source: ask the platform's list endpoint (its poller's ``discover``) every
``polling.watch_interval_seconds`` for runs started elsewhere, and start polling the new ones.

Runs already watched are left as they are (the schedule's key is the run's), so several
processes discovering at once, or a run found again, change nothing. A failed listing is logged
and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from receiver.config import Config
from receiver.logfmt import log_event
from receiver.polling.base import Fetch, Poller
from receiver.store import Store
from receiver.store.polls import NewPoll

log = logging.getLogger("hookyard.polling")

# One listing is cut after this long (each request is bounded by its sink's timeout already).
DISCOVER_TIMEOUT_SECONDS = 60.0


class Watcher:
    def __init__(
        self,
        store: Store,
        pollers: Mapping[str, Poller],
        config: Callable[[], Config],
        fetch_for: Callable[[str], Fetch],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.pollers = pollers
        self.config = config
        self.fetch_for = fetch_for
        self.clock = clock
        self._next_at: dict[str, float] = {}  # source id → when to list again

    async def maybe_discover(self) -> int:
        """List the runs of every watching source whose interval has passed; how many runs were added."""
        now = self.clock()
        every = self.config().polling.watch_interval_seconds
        added = 0
        for source in self.config().sources.values():
            poll = source.poll
            if poll is None or poll.watch is None or self._next_at.get(source.id, float("-inf")) > now:
                continue
            self._next_at[source.id] = now + every
            added += await self.discover(source.id, source.kind, poll.sink, poll.watch, now)
        return added

    async def discover(self, source_id: str, platform: str, sink_id: str, options: dict[str, Any], now: float) -> int:
        poller = self.pollers.get(platform)
        if poller is None:
            return 0
        try:
            found = await asyncio.wait_for(poller.discover(options, self.fetch_for(sink_id)), DISCOVER_TIMEOUT_SECONDS)
            added = await self.store.add_polls([NewPoll(source_id, d.run_id, platform, sink_id, now) for d in found])
        except Exception as exc:  # the platform or the store: the next interval tries again
            log_event(log, logging.WARNING, "poll.discover_failed", source=source_id, platform=platform,
                      reason=f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")  # fmt: skip
            return 0
        if added:
            log_event(log, logging.INFO, "poll.discovered", source=source_id, platform=platform, runs=added)
        return added
