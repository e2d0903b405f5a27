"""Retry a dead delivery: one decision for the CLI, the page and the API.

Suppressed and silenced deliveries are retried the same way: queued again, the dispatcher
decides again (a silence still in force, or the same content within repeat_interval, holds
it back again).

A delivery that died on a send failure has its rendered parameters: it goes back to the
queue as it was. One that died before it had any (its template failed when the event was
routed) would die again at once, so its action is rendered again under the rules in force,
when that rule still has that action for that sink and the template now renders; otherwise
the retry is refused with the reason, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiver.rules import PlannedAction, RenderError, RuleSet, render_action
from receiver.store import Store
from receiver.store.base import RETRYABLE_STATES, DeliveryRow

_ONLY = "only dead, suppressed or silenced deliveries can be retried"


@dataclass(frozen=True)
class RetryResult:
    ok: bool
    message: str
    # Why it was refused (``delivery_not_found``, ``not_dead``, ``cannot_render``); None when queued.
    code: str | None = None
    rerendered: bool = False


def _planned(ruleset: RuleSet | None, row: DeliveryRow) -> PlannedAction | str:
    """The action in force that this delivery came from, or why there is none."""
    if ruleset is None:
        return "no rules are loaded"
    rule = next((r for r in ruleset.rules if r.name == row.rule), None)
    if rule is None:
        return f"rule {row.rule!r} is not in the rules in force (version {ruleset.version})"
    planned = next((p for p in rule.planned if p.action_index == row.action_index), None)
    if planned is None or planned.sink != row.sink_id:
        return (
            f"rule {row.rule!r} has no action [{row.action_index}] for sink {row.sink_id!r} "
            f"in the rules in force (version {ruleset.version})"
        )
    return planned


async def retry_delivery(store: Store, ruleset: RuleSet | None, delivery_id: str, now: float) -> RetryResult:
    """Queue a dead delivery again (re-rendering its action when it has no parameters)."""
    row: DeliveryRow | None = await store.get_delivery(delivery_id)
    if row is None:
        return RetryResult(False, f"no delivery {delivery_id}", "delivery_not_found")
    if row.state not in RETRYABLE_STATES:
        return RetryResult(False, f"delivery {delivery_id} is {row.state.value}; {_ONLY}", "not_dead")
    if row.params is not None:
        if not await store.requeue(delivery_id, now):
            return await _raced(store, delivery_id)
        return RetryResult(True, f"{delivery_id} queued again with a fresh attempt budget")
    refused = f"cannot retry {delivery_id}: it has no parameters (it died with: {row.last_error or 'no reason'})"
    planned = _planned(ruleset, row)
    if isinstance(planned, str):
        return RetryResult(False, f"{refused} and {planned}; replay the event instead", "cannot_render")
    event = await store.get_event(row.event_id)
    if event is None:
        return RetryResult(False, f"{refused} and its event {row.event_id} is gone", "cannot_render")
    version = ruleset.version if ruleset is not None else None
    try:
        params = render_action(planned, event.envelope)
    except RenderError as exc:
        return RetryResult(
            False,
            f"{refused} and its action still fails under the rules in force (version {version}): {exc}",
            "cannot_render",
        )
    if not await store.requeue(delivery_id, now, params=params):
        return await _raced(store, delivery_id)
    return RetryResult(
        True,
        f"{delivery_id} re-rendered under the rules in force (version {version}) and queued again",
        rerendered=True,
    )


async def _raced(store: Store, delivery_id: str) -> RetryResult:
    """Someone else retried it between our read and our write."""
    row = await store.get_delivery(delivery_id)
    state = row.state.value if row is not None else "gone"
    return RetryResult(False, f"delivery {delivery_id} is {state}; {_ONLY}", "not_dead")
