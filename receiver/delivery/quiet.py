"""Noise control at send time: silences, ``mute_time`` and ``repeat_interval``.

The dispatcher asks :meth:`Quiet.held` before anything else about a claimed delivery (a
silenced one is recorded as ``silenced`` and never sent, whatever its sink's breaker says),
and :meth:`Quiet.reserve` just before sending (``repeat_interval``: ``store/noise.py`` says
what two processes are guaranteed).

Silences are read from the store at most once a second (``REFRESH_SECONDS``, on the monotonic
clock) and only while there is something to deliver, so a silence added through any process
applies in every process within that second; this process's own changes apply at once
(``silences.changes``). Actions are found by (rule, action index) in the rules in force; a delivery
whose rule is gone is not muted or suppressed (it is sent as planned).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from receiver.delivery import silences
from receiver.events import isoformat
from receiver.rules import Router
from receiver.rules.groupkey import group_key
from receiver.rules.matchers import Matcher, MatcherError, all_hold, parse_matchers
from receiver.rules.model import ActionSpec
from receiver.store import Store
from receiver.store.base import Claimed, DeliveryState, RepeatDecision, RepeatKey, SilenceRow

log = logging.getLogger("hookyard.delivery")

REFRESH_SECONDS = 1.0
# A delivery whose content another one is sending right now looks again this much later (its
# sender usually finishes within it; a dead sender's reservation runs out with its lease).
REPEAT_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class Held:
    """A delivery held back on purpose: its final state, why, and what held it (``quieted_by``)."""

    state: DeliveryState
    reason: str
    quieted_by: str | None
    cause: str  # silence | mute_time | repeat_interval (the metric's label)


@dataclass(frozen=True)
class Reservation:
    key: RepeatKey
    content_sha256: str
    interval: float  # the action's repeat_interval, seconds


def content_sha256(params: Any) -> str:
    """What "the rendered content changed" compares: the rendered parameters, canonically."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Quiet:
    def __init__(
        self, store: Store, router: Router, clock: Callable[[], float], monotonic: Callable[[], float]
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.monotonic = monotonic
        self._silences: list[tuple[SilenceRow, list[Matcher]]] = []
        self._compiled: dict[str, list[Matcher]] = {}  # by silence id: a silence's matchers never change
        self._read_at: float | None = None
        self._seen_changes = -1
        self._reading = asyncio.Lock()  # deliveries decided together share one read

    def action(self, rule: str, index: int) -> ActionSpec | None:
        ruleset = self.router.ruleset
        planned = ruleset.planned_action(rule, index) if ruleset is not None else None
        return planned.action if planned is not None else None

    def _stale(self) -> bool:
        read_at = self._read_at
        if read_at is None or self.monotonic() - read_at >= REFRESH_SECONDS:
            return True
        return silences.changes() != self._seen_changes

    async def _live(self) -> list[tuple[SilenceRow, list[Matcher]]]:
        if not self._stale():
            return self._silences
        async with self._reading:
            if not self._stale():  # another delivery read them while this one waited
                return self._silences
            now = self.monotonic()
            self._seen_changes = silences.changes()
            rows = await self.store.live_silences(self.clock())
            compiled, known = [], {}
            for row in rows:
                try:
                    matchers = self._compiled.get(row.id) or parse_matchers(row.matchers)
                except MatcherError as exc:  # stored by an older or newer version: never silences
                    log.warning("silence %s is ignored: %s", row.id, exc)
                    continue
                known[row.id] = matchers
                compiled.append((row, matchers))
            self._silences, self._compiled, self._read_at = compiled, known, now
        return self._silences

    async def held(self, c: Claimed) -> Held | None:
        """Silenced by a silence or the action's mute_time, else None."""
        d = c.delivery
        now = self.clock()
        live = await self._live()
        if live:
            envelope = c.envelope if "source" in c.envelope else {**c.envelope, "source": c.event_source}
            for row, matchers in live:
                if row.starts_at <= now < row.ends_at and all_hold(matchers, envelope):
                    why = f"silenced by {row.id} until {isoformat(row.ends_at)}: {row.comment}"
                    return Held(DeliveryState.SILENCED, why, row.id, "silence")
        action = self.action(d.rule, d.action_index)
        if action is not None and action.mute_time is not None and action.mute_time.muted(now):
            return Held(DeliveryState.SILENCED, "mute_time: the action is muted at this time", None, "mute_time")
        return None

    def reservation(self, c: Claimed) -> Reservation | None:
        """What the repeat check counts this delivery by (None: its action has no repeat_interval)."""
        d = c.delivery
        action = self.action(d.rule, d.action_index)
        if action is None or action.repeat_interval is None:
            return None
        key = RepeatKey(d.rule, d.action_index, group_key(action, c.envelope))
        return Reservation(key, content_sha256(d.params), action.repeat_interval)

    async def reserve(self, c: Claimed, r: Reservation, hold_until: float) -> RepeatDecision | Held:
        """``send``/``wait`` from the notification log, or the delivery held back as suppressed."""
        d, interval = c.delivery, r.interval
        decision = await self.store.repeat_reserve(r.key, r.content_sha256, d.id, self.clock(), interval, hold_until)
        if decision.verdict != "suppress":
            return decision
        sent_at = decision.sent_at or 0.0
        why = (
            f"repeat_interval: the same content was sent by {decision.delivery_id} at {isoformat(sent_at)}; "
            f"not again before {isoformat(sent_at + interval)}"
        )
        return Held(DeliveryState.SUPPRESSED, why, decision.delivery_id, "repeat_interval")
