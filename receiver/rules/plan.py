"""Turn an event into planned deliveries under the current rules.

Pure apart from reading the current :class:`~receiver.rules.load.RuleSet`, which hot
reload swaps atomically (one attribute assignment). Templates are rendered here, at
receipt, so the delivery log shows exactly what will be sent; an action whose
template fails becomes a ``dead`` delivery carrying the reason, never a lost event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from receiver.ids import new_id
from receiver.rules.load import PlannedAction, RuleSet
from receiver.rules.templates import RenderError, render_model
from receiver.sinks.base import SendContext, action_params
from receiver.store import Store
from receiver.store.base import DeliveryState, GroupJoin, NewDelivery


@dataclass(frozen=True)
class Plan:
    rules_version: str | None
    matched_rules: list[str] = field(default_factory=list)
    deliveries: list[NewDelivery] = field(default_factory=list)
    grouped: int = 0  # of ``deliveries``, grouped actions' joins: nothing is queued for them now

    @property
    def queued(self) -> int:
        """Deliveries queued now (what the dispatcher is woken for)."""
        return len(self.deliveries) - self.grouped


class Router:
    def __init__(self, ruleset: RuleSet | None, sinks: Mapping[str, Any] | None = None) -> None:
        self.ruleset = ruleset
        self.sinks = dict(sinks or {})

    def swap(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset

    def plan(self, envelope: Mapping[str, Any], *, replay_of: str | None = None) -> Plan:
        ruleset = self.ruleset  # read once: a reload mid-plan must not mix versions
        if ruleset is None:
            return Plan(None)
        matched: list[str] = []
        deliveries: list[NewDelivery] = []
        # One match per event; rules with no actions still count as matched.
        for rule in ruleset.match(envelope):
            matched.append(rule.name)
            deliveries.extend(self._delivery(planned, envelope, replay_of) for planned in rule.planned)
        grouped = sum(1 for d in deliveries if d.group is not None) if ruleset.grouped else 0
        return Plan(ruleset.version, matched, deliveries, grouped)

    def _delivery(self, planned: PlannedAction, envelope: Mapping[str, Any], replay_of: str | None) -> NewDelivery:
        """One planned action rendered into a delivery row (dead at once if its template fails);
        a grouped action's is no delivery yet but the event's share of its group (nothing rendered)."""
        spec = planned.action.group
        if spec is not None:
            join = GroupJoin(spec.key(envelope), spec.wait)
            return NewDelivery(new_id("grp"), planned.rule, planned.action_index, planned.sink, planned.emit, None,
                               replay_of=replay_of, group=join)  # fmt: skip
        return self.render(planned, envelope, replay_of=replay_of)

    def render(
        self, planned: PlannedAction, envelope: Mapping[str, Any], *, replay_of: str | None = None, group: Any = None
    ) -> NewDelivery:
        """The delivery row of ``planned`` rendered for ``envelope`` (and ``group``, a grouped message's).

        The params are validated once, here: the validated action orders the delivery and is
        stored (as its JSON dump); the dispatcher reads the stored form back into the model."""
        state, params, error, ordering = DeliveryState.QUEUED, None, None, None
        try:
            action = render_model(planned, envelope, group)
        except RenderError as exc:
            state, error = DeliveryState.DEAD, f"template error: {exc}"
        else:
            params = action_params(action)
            key_fn = getattr(self.sinks.get(planned.sink), "ordering_key", None)
            if key_fn is not None:
                try:
                    key = key_fn(action, SendContext(delivery_id="", attempt=0, event=envelope))
                except Exception:  # no target to order on; the send will say why
                    key = None
                ordering = "\x1f".join(key) if key else None
        return NewDelivery(
            id=new_id("dlv"),
            rule=planned.rule,
            action_index=planned.action_index,
            sink_id=planned.sink,
            emit=planned.emit,
            params=params,
            state=state,
            last_error=error,
            ordering_key=ordering,
            replay_of=replay_of,
        )


async def replay(store: Store, router: Router, event_id: str, now: float) -> Plan | None:
    """Route a stored event again under the current rules; the new deliveries are queued,
    linked by ``replay_of``. None when there is no such event."""
    row = await store.get_event(event_id)
    if row is None:
        return None
    plan = router.plan(row.envelope, replay_of=event_id)
    if plan.deliveries:
        await store.add_deliveries(event_id, plan.deliveries, now)
    return plan


def action_models(config: Any) -> dict[str, Any]:
    """Sink id → the action params model of its kind: what rule actions are checked against."""
    from receiver.sinks import SINKS

    return {sink.id: SINKS[sink.kind].action for sink in config.sinks.values()}


def action_checks(config: Any) -> dict[str, Any]:
    """Sink id → its kind's check of an action's literal params against the sink's config."""
    from functools import partial

    from receiver.sinks import SINKS

    out = {}
    for sink in config.sinks.values():
        check = SINKS[sink.kind].check_action
        # A config loaded without secrets (read-only commands) keeps no sink options to check against.
        if check is not None and sink.options is not None:
            out[sink.id] = partial(check, sink.id, sink.options)
    return out


def load_rules_for(config: Any, paths: Any = None) -> RuleSet:
    """Load the config's rule files (or ``paths``), validating actions against its sinks."""
    from receiver.rules.load import load_rules

    return load_rules(config.rule_paths if paths is None else paths, action_models(config), action_checks(config))
