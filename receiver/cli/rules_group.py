"""``hookyard rules test --group``: what grouped actions (``group:``) would send for a set of
events, given as files or read from the store (the last ``--last`` events, oldest first).

Events are collected exactly as the daemon collects them: per (rule, action, group key) of
each grouped action they match, in arrival order; each group is rendered once, with the
latest member as ``event``. The wait and interval are not simulated: every group is shown
as if it were due now. Sends nothing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import click

from receiver.config import Config


@dataclass
class _Group:
    planned: Any
    key: str
    members: list[dict[str, Any]] = field(default_factory=list)


def collect(ruleset: Any, events: list[dict[str, Any]]) -> list[_Group]:
    """The groups ``events`` (oldest first) make, in the order they were opened."""
    groups: dict[tuple[str, int, str], _Group] = {}
    for event in events:
        for planned in ruleset.plan(event):
            spec = planned.action.group
            if spec is None:
                continue
            key = spec.key(event)
            groups.setdefault((planned.rule, planned.action_index, key), _Group(planned, key)).members.append(event)
    return list(groups.values())


def rendered(group: _Group) -> dict[str, Any]:
    from receiver.rules import RenderError, render_action
    from receiver.rules.group import GroupView

    planned, spec = group.planned, group.planned.action.group
    view = GroupView(group.members, group.key, spec.max_events)
    out: dict[str, Any] = {"rule": planned.rule, "action_index": planned.action_index, "sink": planned.sink,
                           "key": view.key, "count": view.count, "shown": len(view.events),
                           "events": [e.get("id") for e in group.members]}  # fmt: skip
    try:
        out["params"] = render_action(planned, group.members[-1], view)
    except RenderError as exc:
        out["error"] = str(exc)
    return out


def _stored(config: Config, last: int) -> list[dict[str, Any]]:
    from receiver.store import open_configured
    from receiver.store.base import EventQuery

    async def read() -> list[dict[str, Any]]:
        store = open_configured(config)
        await store.open()
        try:
            found: list[dict[str, Any]] = []
            before: str | None = None
            while len(found) < last:
                rows = await store.list_events(EventQuery(before_id=before, limit=min(500, last - len(found))))
                if not rows:
                    break
                found += [r.envelope for r in rows]
                before = rows[-1].id
            return found[::-1]  # oldest first, as they arrived
        finally:
            await store.close()

    return asyncio.run(read())


def preview(config: Config, ruleset: Any, events: list[dict[str, Any]] | None, last: int, as_json: bool) -> None:
    where = "given" if events is not None else f"of the last {last} stored"
    if events is None:
        events = _stored(config, last)
    groups = [rendered(g) for g in collect(ruleset, events)]
    if as_json:
        click.echo(json.dumps({"events": len(events), "rules_version": ruleset.version, "groups": groups}, indent=2))
        return
    click.echo(f"{len(events)} events ({where}) make {len(groups)} group(s); rules version {ruleset.version}")
    for g in groups:
        shown = f", the message shows {g['shown']}" if g["shown"] < g["count"] else ""
        click.echo(f"GROUP {g['rule']}[{g['action_index']}] → {g['sink']}  key {json.dumps(g['key'])}: "
                   f"{g['count']} event(s){shown}")  # fmt: skip
        if "params" in g:
            for name, value in g["params"].items():
                text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                click.echo(f"    {name}: " + str(text).replace("\n", "\n      "))
        else:
            click.echo(f"    RENDER ERROR: {g['error']}")
