"""``hookyard runs`` and ``hookyard runs show KEY``: tracked runs from the store."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from receiver.cli.common import CONFIG_OPTION, load_or_exit
from receiver.cli.deliveries import with_store
from receiver.errors import HTTPError
from receiver.runs.model import TRANSITIONS
from receiver.sources.fields import OUTCOMES


@click.group(invoke_without_command=True)
@CONFIG_OPTION
@click.option("--platform", default=None, help="Only runs on this platform (source kind).")
@click.option("--name", default=None, help="Only runs of this test.")
@click.option("--branch", default=None, help="Only runs of this branch.")
@click.option("--pr", default=None, help="Only runs of this pull request.")
@click.option("--outcome", type=click.Choice(OUTCOMES), default=None, help="Only runs with this outcome.")
@click.option("--transition", type=click.Choice(TRANSITIONS), default=None, help="Only runs with this transition.")
@click.option("--before", default=None, help="Runs older than this run key (the next page).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def runs(ctx: click.Context, config_path: Path, limit: int, as_json: bool, **filters: str | None) -> None:
    """List tracked runs, newest first."""
    ctx.obj = config_path
    if ctx.invoked_subcommand is not None:
        return
    from receiver.runs.present import run_dict, run_query

    config = load_or_exit(config_path)
    try:
        query = run_query(filters, limit)
    except HTTPError as exc:
        raise click.BadParameter(exc.message) from None

    async def fetch(store: Any) -> list[dict[str, Any]]:
        return [run_dict(r) for r in await store.list_runs(query)]

    items = with_store(config, fetch)
    for item in items:
        if as_json:
            click.echo(json.dumps(item, sort_keys=True))
            continue
        git = item["git"]
        where = " ".join(x for x in (git["branch"], (git["sha"] or "")[:12], f"#{git['pr']}" if git["pr"] else "") if x)
        click.echo(
            f"{item['key']}  {item['platform']:<15} {item['name'] or '-':<24} {item['status'] or '-':<10} "
            f"{item['outcome'] or '-':<9} {item['transition'] or '':<13} {where}"
        )
    if not items and not as_json:
        click.echo("no runs", err=True)


@runs.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="The run and its events as one JSON object.")
@click.pass_obj
def show(config_path: Path, key: str, as_json: bool) -> None:
    """One run with its events (and its polls, when Hookyard polls it)."""
    from receiver.polling.present import run_poll
    from receiver.runs.present import is_run_key, run_dict
    from receiver.store.base import DeliveryQuery
    from receiver.web.present import event_summary

    config = load_or_exit(config_path)

    async def fetch(store: Any) -> dict[str, Any] | None:
        row = await store.get_run(key) if is_run_key(key) else None
        if row is None:
            return None
        events = [event_summary(e) for e in await store.run_events(key, 1000)]
        for e in events:  # what each event caused: the deliveries, oldest first
            found = await store.list_deliveries(DeliveryQuery(event_id=e["id"], limit=1000))
            e["deliveries"] = [_delivery_line(d) for d in reversed(found)]
        poll = await run_poll(store, row.source_id, row.run_id, time.time())
        return {"run": run_dict(row), "events": events, "poll": poll}

    found = with_store(config, fetch)
    if found is None:
        click.echo(f"no run {key}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(found, sort_keys=True))
        return
    for name, value in found["run"].items():
        if value is not None:
            click.echo(f"{name + ':':<21}{json.dumps(value) if isinstance(value, dict) else value}")
    click.echo("events:")
    for e in found["events"]:
        click.echo(f"  {e['id']}  {e['received_at']}  {e['type']:<20} rules: {', '.join(e['matched_rules']) or '-'}")
        for d in e["deliveries"]:
            click.echo(f"      → {d['sink']:<16} {d['state']:<11} {d['rule']}[{d['action_index']}]  {d['id']}")
    poll = found["poll"]
    if poll is not None:
        click.echo(f"polling:             {poll['summary']} (sink {poll['sink']}, {poll['polls']} polls)")
        for h in poll["history"]:
            answer = h["status"] if h["status"] is not None else "none"
            why = ": ".join(str(x) for x in (h["error_class"], h["reason"]) if x)
            more = f"  {why}" if why else ""
            click.echo(f"  #{h['number']:<4} {h['at']}  answer {answer:<5} events {h['events']}{more}")


def _delivery_line(d: Any) -> dict[str, Any]:
    return {"id": d.id, "sink": d.sink_id, "rule": d.rule, "action_index": d.action_index, "state": d.state.value}
