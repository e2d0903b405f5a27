"""``hookyard rules test`` and ``hookyard rules diff``: edit rules without fear."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from receiver.cli.common import CONFIG_OPTION, load_or_exit, parse_headers
from receiver.config import Config
from receiver.errors import ConfigError


def parse_duration(text: str, hint: str = "--since") -> float:
    from receiver.rules import duration as durations  # the rules package loads Jinja: only when asked

    try:
        return durations.parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _ruleset(config: Config, paths: list[Path] | None = None) -> Any:
    from receiver.rules import load_rules_for

    try:
        return load_rules_for(config, paths)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)


def _event_from(config: Config, payload: Path, source_id: str | None, headers: dict[str, str]) -> dict[str, Any]:
    from receiver.events import build_envelope
    from receiver.ids import new_id
    from receiver.sources.base import safe_normalize
    from receiver.verify.base import RawRequest

    body = payload.read_bytes()
    if source_id is not None:
        src = config.sources.get(source_id)
        if src is None:
            raise click.BadParameter(f"no source {source_id!r} in {config.path}", param_hint="--source")
        req = RawRequest(body=body, headers={k.lower(): v for k, v in headers.items()})
        now = time.time()
        return build_envelope(
            safe_normalize(src.adapter, req), event_id=new_id("evt", now), source_id=src.id, received_at=now
        )
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise click.ClickException(f"{payload}: not JSON: {exc}") from None
    if not isinstance(event, dict) or "specversion" not in event or "type" not in event:
        raise click.ClickException(
            f"{payload}: not a Hookyard event envelope; for a raw platform payload pass --source ID"
        )
    return event


def rendered_actions(ruleset: Any, event: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per matched rule, its actions rendered (or the render error), sending nothing."""
    from receiver.rules import RenderError, render_action

    out: dict[str, list[dict[str, Any]]] = {}
    for planned in ruleset.plan(event):
        entry: dict[str, Any] = {
            "sink": planned.sink,
            "action_index": planned.action_index,
            "emit": planned.emit,
        }
        try:
            entry["params"] = render_action(planned, event)
        except RenderError as exc:
            entry["error"] = str(exc)
        else:
            entry["warnings"] = empty_text_warnings(entry["params"])
        out.setdefault(planned.rule, []).append(entry)
    return out


# Message parameters that must say something: Apprise services refuse an empty body, and an
# empty title reads as a broken notification.
_MESSAGE_KEYS = ("title", "body")


def empty_text_warnings(params: dict[str, Any]) -> list[str]:
    """Warnings for message parameters that render empty (or only whitespace) for this event."""
    return [
        f"{key} renders empty for this event"
        for key in _MESSAGE_KEYS
        if isinstance(params.get(key), str) and not params[key].strip()
    ]


@click.group()
def rules() -> None:
    """Test and compare routing rules."""


@rules.command("test")
@CONFIG_OPTION
@click.option("--source", "source_id", default=None, help="EVENT is a raw payload of this source: normalize it first.")
@click.option("--header", "extra_headers", multiple=True, help="Header 'Name: value' for --source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--group",
    "group_preview",
    is_flag=True,
    help="Preview the messages of grouped actions (group:) over the EVENT files, or without any over "
    "the last --last events in the store.",
)
@click.option("--last", default=200, show_default=True, type=click.IntRange(1, 100_000), help="With --group.")
@click.argument("event_files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rules_test(
    config_path: Path,
    source_id: str | None,
    extra_headers: tuple[str, ...],
    as_json: bool,
    group_preview: bool,
    last: int,
    event_files: tuple[Path, ...],
) -> None:
    """For every rule: matched or not and why; for matches the rendered actions. Sends nothing.

    With --group: what each grouped action would send for the given events (or the stored ones)."""

    config = load_or_exit(config_path)
    ruleset = _ruleset(config)
    headers = parse_headers(extra_headers)
    if group_preview:
        from receiver.cli.rules_group import preview

        events = [_event_from(config, f, source_id, headers) for f in event_files] if event_files else None
        preview(config, ruleset, events, last, as_json)
        return
    if len(event_files) != 1:
        raise click.UsageError("give one EVENT file (several only with --group)")
    event = _event_from(config, event_files[0], source_id, headers)
    actions = rendered_actions(ruleset, event)
    explanations = ruleset.explain(event)
    if as_json:
        out = []
        for ex in explanations:
            item = ex.to_dict()
            if ex.matched:
                item["actions"] = actions.get(ex.rule, [])
            out.append(item)
        click.echo(
            json.dumps(
                {
                    "event": {
                        "type": event.get("type"),
                        "source": event.get("source"),
                        "subject": event.get("subject"),
                    },
                    "rules_version": ruleset.version,
                    "rules": out,
                },
                indent=2,
            )
        )
        return
    subject = event.get("subject")
    click.echo(
        f"event {event.get('type')} from {event.get('source')} "
        f"({'subject ' + str(subject) if subject is not None else 'no subject'}); rules version {ruleset.version}"
    )
    for ex in explanations:
        mark = "MATCH" if ex.matched else "  -  "
        click.echo(f"{mark} {ex.rule}  ({ex.file}:{ex.line})  {ex.reason}")
        for a in actions.get(ex.rule, []) if ex.matched else []:
            what = json.dumps(a["params"], sort_keys=True) if "params" in a else f"RENDER ERROR: {a['error']}"
            emit = f" emit {a['emit']}" if a["emit"] else ""
            click.echo(f"        → {a['sink']}{emit}: {what}")
            for warning in a.get("warnings", []):
                click.echo(f"          warning: {warning}")
    matched = sum(1 for ex in explanations if ex.matched)
    click.echo(f"{matched} of {len(explanations)} rules match")


Route = tuple[str, int, str, str]


def _routes(ruleset: Any, event: dict[str, Any]) -> dict[Route, Any]:
    """(rule, action index, sink, emit) → what that action would send for ``event``: its
    rendered params, or ``{"render error": …}``; changed params are a routing change too."""
    out: dict[Route, Any] = {}
    for rule, entries in rendered_actions(ruleset, event).items():
        for a in entries:
            key = (rule, a["action_index"], a["sink"], a["emit"] or "")
            out[key] = a["params"] if "params" in a else {"render error": a["error"]}
    return out


def param_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """What differs between two rendered params, one ``path: old → new`` line per leaf."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            out += param_changes(old.get(key, _ABSENT), new.get(key, _ABSENT), where)
        return out
    if old == new and type(old) is type(new):
        return []
    return [f"{path or 'params'}: {_shown(old)} → {_shown(new)}"]


_ABSENT = object()


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


@rules.command("diff")
@CONFIG_OPTION
@click.option(
    "--rules",
    "new_rules",
    required=True,
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="The proposed rule file(s) or folder(s).",
)
@click.option("--since", default="7d", show_default=True, help="How far back to replay stored events (30m, 12h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per changed event.")
def rules_diff(config_path: Path, new_rules: tuple[Path, ...], since: str, as_json: bool) -> None:
    """Replay stored events through the current and the proposed rules; print every routing change."""
    from receiver.store import open_store
    from receiver.store.base import EventQuery

    config = load_or_exit(config_path)
    current = _ruleset(config)
    proposed = _ruleset(config, list(new_rules))
    cutoff = time.time() - parse_duration(since)

    async def run() -> tuple[int, int]:
        store = open_store(config.storage_url)
        await store.open()
        seen = changed = 0
        try:
            before: str | None = None
            while True:
                rows = await store.list_events(EventQuery(since=cutoff, before_id=before, limit=500))
                if not rows:
                    break
                for row in rows:
                    seen += 1
                    old, new = _routes(current, row.envelope), _routes(proposed, row.envelope)
                    if old.keys() == new.keys() and not any(param_changes(old[k], new[k]) for k in old):
                        continue
                    changed += 1
                    _print_change(row, old, new, as_json)
                before = rows[-1].id
        finally:
            await store.close()
        return seen, changed

    seen, changed = asyncio.run(run())
    summary = (
        f"{seen} events since {since} replayed: {changed} would route differently "
        f"(rules {current.version} → {proposed.version})"
    )
    click.echo(summary, err=as_json)


def _print_change(row: Any, old: dict[Route, Any], new: dict[Route, Any], as_json: bool) -> None:
    def label(r: Route) -> str:
        return f"{r[0]}[{r[1]}] → {r[2]}" + (f" (emit {r[3]})" if r[3] else "")

    gone, added = sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys())
    changed = {k: diff for k in sorted(old.keys() & new.keys()) if (diff := param_changes(old[k], new[k]))}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "event_id": row.id,
                    "source": row.source_id,
                    "type": row.type,
                    "subject": row.subject,
                    "removed": [label(r) for r in gone],
                    "added": [label(r) for r in added],
                    "changed": {label(r): diff for r, diff in changed.items()},
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{row.id}  {row.source_id}  {row.type}  {row.subject or '-'}")
    for r in gone:
        click.echo(f"    - {label(r)}")
    for r in added:
        click.echo(f"    + {label(r)}")
    for r, diff in changed.items():
        click.echo(f"    ~ {label(r)}")
        for line in diff:
            click.echo(f"        {line}")
