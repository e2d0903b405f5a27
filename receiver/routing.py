"""Turn an event into planned deliveries under the current rules.

Pure apart from reading the current :class:`~receiver.rules.RuleSet`, which hot
reload swaps atomically (one attribute assignment). Templates are rendered here, at
receipt, so the delivery log shows exactly what will be sent; an action whose
template fails becomes a ``dead`` delivery carrying the reason, never a lost event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from receiver.events import new_id
from receiver.render import RenderError
from receiver.rules import RuleSet, render_action
from receiver.sinks.base import SendContext
from receiver.store.base import DeliveryState, NewDelivery


@dataclass(frozen=True)
class Plan:
    rules_version: str | None
    matched_rules: list[str] = field(default_factory=list)
    deliveries: list[NewDelivery] = field(default_factory=list)


class Router:
    def __init__(self, ruleset: RuleSet | None, sinks: Mapping[str, Any] | None = None) -> None:
        self.ruleset = ruleset
        self.sinks = dict(sinks or {})
        self.reload_error: str | None = None

    def swap(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.reload_error = None

    def plan(self, envelope: Mapping[str, Any], *, replay_of: str | None = None) -> Plan:
        ruleset = self.ruleset  # read once: a reload mid-plan must not mix versions
        if ruleset is None:
            return Plan(None)
        matched: list[str] = []
        deliveries: list[NewDelivery] = []
        for planned in ruleset.plan(envelope):
            if planned.rule not in matched:
                matched.append(planned.rule)
            state, params, error, ordering = DeliveryState.QUEUED, None, None, None
            try:
                params = render_action(planned, envelope)
            except RenderError as exc:
                state, error = DeliveryState.DEAD, f"template error: {exc}"
            else:
                sink = self.sinks.get(planned.sink)
                key_fn = getattr(sink, "ordering_key", None)
                if key_fn is not None:
                    try:
                        key = key_fn(params, SendContext(delivery_id="", attempt=0, event=envelope))
                    except Exception:  # no target to order on; the send will say why
                        key = None
                    ordering = "\x1f".join(key) if key else None
            deliveries.append(
                NewDelivery(
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
            )
        for rule in ruleset.match(envelope):
            if rule.name not in matched:  # rules with no actions still count as matched
                matched.append(rule.name)
        return Plan(ruleset.version, matched, deliveries)


def action_models(config: Any) -> dict[str, Any]:
    """Sink id → the action params model of its kind: what rule actions are checked against."""
    from receiver.sinks import SINKS

    return {sink.id: SINKS[sink.kind].action for sink in config.sinks.values()}


def load_rules_for(config: Any) -> RuleSet:
    """Load the config's rule files, validating actions against its sinks' kinds."""
    from receiver.rules import load_rules

    return load_rules(config.rule_paths, action_models(config))
