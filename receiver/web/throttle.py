"""Failed token attempts, limited per client (a leaky bucket per address).

A client may get the token wrong ``burst`` times; after that each further attempt has
to wait until one failure has leaked away (one per ``every`` seconds). While it waits,
every attempt is refused with 429, the right token too: otherwise the answer would
still tell a guesser which guess was right.

The buckets live in each process: with ``server.processes: N`` a guesser gets at most
N times the rate, still hopeless against a token of 32+ characters.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("hookyard.web")

BURST = 10
EVERY_SECONDS = 6.0
MAX_CLIENTS = 10_000  # beyond this the quietest buckets are forgotten (memory stays bounded)


class FailureThrottle:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        burst: int = BURST,
        every: float = EVERY_SECONDS,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.clock = clock
        self.burst = burst
        self.every = every
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (level, as of)

    def _level(self, client: str, now: float) -> float:
        level, since = self._buckets.get(client, (0.0, now))
        return max(0.0, level - (now - since) / self.every)

    def retry_after(self, client: str) -> int | None:
        """Whole seconds this client must wait before its next attempt, or None: go ahead."""
        level = self._level(client, self.clock())
        if level <= self.burst - 1:
            return None
        return max(1, math.ceil((level - (self.burst - 1)) * self.every))

    def failed(self, client: str) -> None:
        now = self.clock()
        level = self._level(client, now) + 1
        self._buckets[client] = (level, now)
        self._buckets.move_to_end(client)
        if self.burst - 1 < level <= self.burst:
            log.warning("web: %d wrong tokens from %s; its attempts are throttled now", self.burst, client)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
