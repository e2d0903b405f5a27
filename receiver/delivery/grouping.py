"""The group flusher: due groups of grouped actions become ONE delivery each.

Runs inside the dispatcher's claim loop (wherever deliveries are sent), at most once per
``FLUSH_EVERY_SECONDS`` (per ``IDLE_FLUSH_EVERY_SECONDS`` while no rule groups): each flush
is one store transaction that claims up to ``FLUSH_BATCH`` due groups and, per group, either
postpones it (a follow-up is due no sooner than ``interval`` after the previous send of its
key) or renders its delivery with ``group`` (``rules.group.GroupView``) and the latest member
as ``event``, queues it and marks the group sent (``store/groups.py``). The dispatcher then
claims that delivery like any other.

Every outcome is visible: ``group.sent`` (members, delivery), ``group.capped`` when the message
shows fewer events than the group has (``max_events``), ``group.unroutable`` when the rule or
action is gone after a reload (the delivery is recorded dead with the reason); /metrics counts
groups sent and their members.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from receiver.errors import StoreUnavailable
from receiver.ids import new_id
from receiver.logfmt import log_event
from receiver.metrics import Metrics
from receiver.rules import Router
from receiver.rules.group import GroupSpec, GroupView
from receiver.rules.load import PlannedAction
from receiver.store import Store
from receiver.store import groups as stored
from receiver.store.base import DeliveryState, NewDelivery
from receiver.store.groups import Flushed, GroupRow, Member

log = logging.getLogger("hookyard.groups")

FLUSH_EVERY_SECONDS = 1.0
# Without any group: in the rules a flush only drains groups left open by a reload that removed
# theirs (recorded dead, see Renderer): a rarer look spares the store a write each second.
IDLE_FLUSH_EVERY_SECONDS = 60.0
FLUSH_BATCH = 16  # groups per transaction: a big group's render holds the writer for this many at most


class Renderer:
    """The rules in force when a flush starts (a reload mid-flush does not mix versions)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.ruleset = router.ruleset

    def planned(self, group: GroupRow) -> PlannedAction | None:
        ruleset = self.ruleset
        planned = ruleset.planned_action(group.rule, group.action_index) if ruleset is not None else None
        return planned if planned is not None and planned.sink == group.sink_id else None

    def spec(self, group: GroupRow) -> GroupSpec:
        planned = self.planned(group)
        return (planned.action.group if planned is not None else None) or GroupSpec()

    def interval(self, group: GroupRow) -> float:
        return self.spec(group).interval

    def render(self, group: GroupRow, members: Sequence[Member]) -> NewDelivery:
        planned = self.planned(group)
        if planned is None:
            reason = f"rule {group.rule!r} has no action {group.action_index} to sink {group.sink_id!r} any more"
            return NewDelivery(new_id("dlv"), group.rule, group.action_index, group.sink_id, None, None,
                               state=DeliveryState.DEAD, last_error=f"group not sent: {reason}")  # fmt: skip
        view = GroupView([m.envelope for m in members], group.key, self.spec(group).max_events)
        return self.router.render(planned, members[-1].envelope, group=view)


class GroupFlusher:
    def __init__(
        self,
        store: Store,
        router: Router,
        *,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        every: float = FLUSH_EVERY_SECONDS,
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.metrics = metrics
        self.every = every
        self._last = -math.inf  # when the last flush began

    def flush_is_due(self) -> bool:
        """Whether ``every`` passed since the last flush (``IDLE_FLUSH_EVERY_SECONDS`` while no rule
        groups; the rules are read each time, so a reload that adds ``group:`` counts at once)."""
        ruleset = self.router.ruleset
        every = self.every if ruleset is not None and ruleset.grouped else IDLE_FLUSH_EVERY_SECONDS
        return self.clock() >= self._last + every

    async def flush(self, *, force: bool = False) -> int:
        """Flush the due groups (unless one was done less than ``every`` ago and not ``force``);
        returns how many deliveries were queued."""
        if not force and not self.flush_is_due():
            return 0
        now = self._last = self.clock()
        queued = 0
        while True:
            renderer = Renderer(self.router)
            try:
                flushed = await self.store.flush_groups(now, FLUSH_BATCH, renderer)
            except StoreUnavailable as exc:  # e.g. store_busy: nothing changed; the next flush retries
                log.warning("flushing groups failed: %s; retrying", exc)
                return queued
            except Exception:
                log.exception("flushing groups failed; retrying")
                return queued
            for f in flushed:
                queued += self._report(f, renderer)
            if len(flushed) < FLUSH_BATCH and sum(f.count for f in flushed) < stored.MEMBER_BUDGET:
                return queued  # nothing more was due

    def _report(self, f: Flushed, renderer: Renderer) -> int:
        g = f.group
        if f.delivery is None:
            if f.until is None:  # every member's event was pruned by retention
                log_event(log, logging.WARNING, "group.empty", group=g.id, rule=g.rule, key=g.key)
            return 0
        d = f.delivery
        if self.metrics is not None:
            self.metrics.group_sent(g.rule, f.count)
        fields: dict[str, Any] = {"group": g.id, "rule": g.rule, "action": g.action_index, "key": g.key,
                                  "members": f.count, "delivery": d.id}  # fmt: skip
        if d.state is DeliveryState.DEAD:
            log_event(log, logging.WARNING, "group.unroutable", **fields, reason=d.last_error)
            return 1
        log_event(log, logging.INFO, "group.sent", **fields)
        cap = renderer.spec(g).max_events
        if f.count > cap:
            log_event(log, logging.INFO, "group.capped", group=g.id, rule=g.rule, members=f.count, shown=cap)
            if self.metrics is not None:
                self.metrics.group_capped(g.rule)
        return 1
