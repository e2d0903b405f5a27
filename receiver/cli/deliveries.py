"""``hookyard deliveries``, ``retry`` and ``replay``: read and act on the delivery log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from receiver.cli.common import CONFIG_OPTION, fail, load_or_exit
from receiver.config import Config
from receiver.store.base import DeliveryState
from receiver.web.present import delivery_dict

T = TypeVar("T")


def with_store(config: Config, fn: Callable[[Any], Awaitable[T]]) -> T:
    from receiver.store import open_store

    async def run() -> T:
        store = open_store(config.storage_url)
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(run())


@click.command()
@CONFIG_OPTION
@click.option(
    "--state",
    type=click.Choice([s.value for s in DeliveryState]),
    default=None,
    help="Only deliveries in this state.",
)
@click.option("--event", "event_id", default=None, help="Only deliveries of this event.")
@click.option("--sink", "sink_id", default=None, help="Only deliveries to this sink.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def deliveries(
    config_path: Path, state: str | None, event_id: str | None, sink_id: str | None, limit: int, as_json: bool
) -> None:
    """List deliveries, newest first, with their attempts."""
    from receiver.store.base import DeliveryQuery

    config = load_or_exit(config_path)

    async def fetch(store: Any) -> list[dict[str, Any]]:
        rows = await store.list_deliveries(DeliveryQuery(state=state, event_id=event_id, sink_id=sink_id, limit=limit))
        attempts = await store.attempts_for([r.id for r in rows])
        return [delivery_dict(r, attempts[r.id]) for r in rows]

    items = with_store(config, fetch)
    for item in items:
        if as_json:
            click.echo(json.dumps(item, sort_keys=True))
            continue
        click.echo(
            f"{item['id']}  {item['state']:<11} {item['sink']:<16} rule {item['rule']}[{item['action_index']}]"
            f"  event {item['event_id']}  attempts {item['attempts']}"
        )
        for a in item["attempt_log"]:
            status = f"HTTP {a['status']}" if a["status"] else (a["error_class"] or "")
            click.echo(
                f"    #{a['number']} {a['started_at']} {a['outcome']:<10} {status:<12} "
                f"{a['duration_ms']:>8} ms  {a['reason'] or ''}"
            )
        if item["state"] in ("retrying", "queued"):
            click.echo(f"    next attempt at {item['next_attempt_at']}")
        if item["state"] == "dead":
            click.echo(f"    died: {death_reason(item)}")
        if item["state"] in ("suppressed", "silenced"):
            click.echo(f"    {item['state']}: {death_reason(item)}")
    if not items and not as_json:
        click.echo("no deliveries", err=True)


def death_reason(item: dict[str, Any]) -> str:
    """Why a dead delivery died: its recorded error, else its last attempt's reason."""
    if item["last_error"]:
        return str(item["last_error"])
    reasons = [a["reason"] for a in item["attempt_log"] if a["reason"]]
    return reasons[-1] if reasons else "no reason recorded"


@click.command()
@CONFIG_OPTION
@click.argument("delivery_id")
def retry(config_path: Path, delivery_id: str) -> None:
    """Put a dead delivery back in the queue with a fresh attempt budget.

    One that died without parameters (its template failed) has its action rendered again
    under the rules in force; when that cannot work, the retry is refused with the reason."""
    from receiver.cli.rules import _ruleset
    from receiver.retrying import retry_delivery

    config = load_or_exit(config_path)
    ruleset = _ruleset(config)
    result = with_store(config, lambda store: retry_delivery(store, ruleset, delivery_id, time.time()))
    if not result.ok:
        fail(result.message)
    click.echo(f"{result.message}; the running daemon sends it within its poll interval")


@click.command()
@CONFIG_OPTION
@click.option(
    "--renormalize",
    is_flag=True,
    help="Run the source's current adapter on the stored body and headers first; route the new event.",
)
@click.argument("event_id")
def replay(config_path: Path, renormalize: bool, event_id: str) -> None:
    """Route a stored event again under the current rules (new deliveries, linked to the original)."""
    from receiver.cli.rules import _ruleset
    from receiver.rules import Router, replay
    from receiver.runtime import build_sinks
    from receiver.sinks.client import HttpClient

    config = load_or_exit(config_path, secrets=True)
    # Live sinks give replayed github_status deliveries their ordering key (no I/O here).
    router = Router(_ruleset(config), build_sinks(config, HttpClient()))
    if renormalize:
        _renormalize(config, router, event_id)
        return

    async def run(store: Any) -> list[Any] | None:
        plan = await replay(store, router, event_id, time.time())
        return None if plan is None else plan.deliveries

    planned = with_store(config, run)
    if planned is None:
        fail(f"no event {event_id}")
    _print_planned(event_id, planned, event_id)


def _print_planned(event_id: str, planned: list[Any], replay_of: str) -> None:
    if not planned:
        click.echo(f"{event_id}: no rule matches it now; nothing queued")
        return
    for d in planned:
        note = f"  ({d.state.value}: {d.last_error})" if d.last_error else ""
        click.echo(f"{d.id}  rule {d.rule}[{d.action_index}] → {d.sink_id}{note}")
    click.echo(f"{len(planned)} deliveries queued for {event_id} (replay_of={replay_of})")


def _renormalize(config: Config, router: Any, event_id: str) -> None:
    from receiver.renormalize import renormalize_event

    done = with_store(config, lambda store: renormalize_event(store, config, router, event_id, time.time()))
    changed = ", ".join(done.changed) if done.changed else "nothing (same envelope as before)"
    click.echo(f"{done.event_id}  re-normalized from {event_id} ({done.envelope['type']}); changed: {changed}")
    _print_planned(done.event_id, done.plan.deliveries, event_id)
