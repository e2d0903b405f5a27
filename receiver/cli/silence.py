"""``hookyard silence add|list|expire``: silences in the store, applied by every process within a second."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path
from typing import Any

import click

from receiver.cli.common import CONFIG_OPTION, fail, load_or_exit
from receiver.cli.deliveries import with_store


@click.group()
def silence() -> None:
    """Keep matching deliveries from being sent (recorded as silenced, never lost)."""


def _who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "cli"


@silence.command("add")
@CONFIG_OPTION
@click.option(
    "--match", "matchers", multiple=True, required=True,
    help="path=value (* and ? glob), path!=value, path=~regex or path!~regex; repeat for more (all must hold).",
)  # fmt: skip
@click.option("--for", "duration", required=True, help="How long from now (or from --starts): 30m, 2h, 7d.")
@click.option("--starts", default=None, help="When it starts (ISO 8601, UTC unless an offset is given) [default: now].")
@click.option("--comment", required=True, help="Why (shown with every delivery it silences).")
@click.option("--by", "created_by", default=None, help="Who made it [default: the login name].")
def add(
    config_path: Path,
    matchers: tuple[str, ...],
    duration: str,
    starts: str | None,
    comment: str,
    created_by: str | None,
) -> None:
    """Add a silence; prints its id."""
    from receiver.cli.rules import parse_duration
    from receiver.delivery import silences
    from receiver.errors import HookyardError
    from receiver.web.params import parse_time

    seconds = parse_duration(duration, "--for")
    now = time.time()
    try:
        starts_at = now if starts is None else parse_time(starts)
    except (ValueError, HookyardError):
        hint = f"{starts!r} is not a time such as 2026-03-01T22:00:00Z"
        raise click.BadParameter(hint, param_hint="--starts") from None
    config = load_or_exit(config_path)
    try:
        row = silences.new_silence(
            matchers, starts_at=starts_at, ends_at=starts_at + seconds, comment=comment,
            created_by=created_by or _who(), now=now,
        )  # fmt: skip
    except silences.SilenceError as exc:
        fail(str(exc))
    with_store(config, lambda store: silences.add(store, row))
    shown = silences.silence_dict(row, now)
    click.echo(f"{row.id}  {shown['state']} until {shown['ends_at']}  {' '.join(row.matchers)}")


@silence.command("list")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
def list_(config_path: Path, as_json: bool, limit: int) -> None:
    """Every silence, newest first: active, pending (not started) and expired."""
    from receiver.delivery.silences import silence_dict

    config = load_or_exit(config_path)
    now = time.time()
    rows: list[Any] = with_store(config, lambda store: store.list_silences(limit))
    for row in rows:
        item = silence_dict(row, now)
        if as_json:
            click.echo(json.dumps(item, sort_keys=True))
            continue
        ended = item["expired_at"] or item["ends_at"]
        when = f"{item['starts_at']} .. {ended}"
        click.echo(f"{item['id']}  {item['state']:<8} {when}  {' '.join(item['matchers'])}")
        click.echo(f"    {item['comment']} (by {item['created_by']})")
    if not rows and not as_json:
        click.echo("no silences", err=True)


@silence.command("expire")
@CONFIG_OPTION
@click.argument("silence_id")
def expire(config_path: Path, silence_id: str) -> None:
    """End a silence now."""
    from receiver.delivery import silences
    from receiver.events import isoformat

    config = load_or_exit(config_path)
    now = time.time()
    try:
        done = with_store(config, lambda store: silences.expire(store, silence_id, now))
    except silences.SilenceError as exc:
        fail(str(exc))
    ended = done.row.expired_at if done.row.expired_at is not None else done.row.ends_at
    if done.already:
        click.echo(f"{silence_id} had already ended at {isoformat(ended)}")
    else:
        click.echo(f"{silence_id} expired at {isoformat(ended)}; every process stops applying it within a second")
