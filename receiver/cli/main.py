"""The ``hookyard`` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click

from receiver import __version__, jsonutil
from receiver.cli.common import CONFIG_ENV, CONFIG_OPTION, Commands, fail, load_or_exit, parse_headers
from receiver.errors import ConfigError, HookyardError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar=CONFIG_ENV,
    help=f"The config file for every command [env: {CONFIG_ENV}; default: config.example.yaml].",
)
def main(config_path: Path | None) -> None:
    """Hookyard: receive, verify, normalize and route testing-platform webhooks."""


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"hookyard {__version__}")


@main.command()
@CONFIG_OPTION
def check(config_path: Path) -> None:
    """Run every check `serve` runs short of binding the port: config, rule files, sinks, the
    store (opened and migrated), and the dev-secret guard; exit 1 listing every problem."""
    from receiver.daemon.startup import exposure_problem, preflight

    config = load_or_exit(config_path, secrets=True)
    problems: list[str] = []
    try:
        ruleset = preflight(config)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    except HookyardError as exc:
        problems.append(f"error: {exc}")
    exposed = exposure_problem(config, config.server.host)
    if exposed:
        problems.append(f"error: {exposed}")
    if problems:
        fail(*problems)
    from receiver.cli.check import private_url_warnings

    for warning in private_url_warnings(config):
        click.echo(str(warning), err=True)
    click.echo(
        f"{config_path}: ok: {len(config.sources)} sources, {len(config.sinks)} sinks, "
        f"{len(ruleset.rules)} rules (version {ruleset.version}), store {config.storage_url.split(':', 1)[0]} ok"
    )


@main.command()
@CONFIG_OPTION
@click.option("--host", default=None, help="Override server.host.")
@click.option("--port", type=int, default=None, help="Override server.port.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="info", show_default=True)
@click.option("--processes", type=click.IntRange(1, 64), default=None, help="Override server.processes.")
@click.option(
    "--allow-dev-secrets",
    is_flag=True,
    help="Listen on a non-loopback address even though a source uses a public dev-only secret (demos only; "
    "HOOKYARD_ALLOW_DEV_SECRETS=1 does the same, for check too).",
)
def serve(
    config_path: Path,
    host: str | None,
    port: int | None,
    log_level: str,
    processes: int | None,
    allow_dev_secrets: bool,
) -> None:
    """Run the daemon."""
    from receiver.daemon.serve import configure_logging
    from receiver.daemon.startup import StartupError, exposure_problem, exposure_warning, preflight
    from receiver.daemon.supervisor import run

    configure_logging(log_level)
    config = load_or_exit(config_path, secrets=True)
    configure_logging(log_level, config.server.log_format)
    exposed = exposure_problem(config, host or config.server.host, allow_dev_secrets=allow_dev_secrets)
    if exposed:
        raise StartupError(exposed)
    preflight(config)
    warning = exposure_warning(config, host or config.server.host)
    if warning:
        logging.getLogger("hookyard.serve").warning("%s", warning)
    run(config, host=host, port=port, log_level=log_level, processes=processes)


@main.command()
@CONFIG_OPTION
@click.option("--source", "source_id", default=None, help="Only events of this source.")
@click.option("--type", "event_type", default=None, help="Only events of this normalized type.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events(config_path: Path, source_id: str | None, event_type: str | None, limit: int, as_json: bool) -> None:
    """List stored events, newest first."""
    from receiver.store import open_store
    from receiver.store.base import EventQuery

    config = load_or_exit(config_path)

    async def fetch() -> list[Any]:
        store = open_store(config.storage_url)
        await store.open()
        try:
            return await store.list_events(EventQuery(source=source_id, type=event_type, limit=limit))
        finally:
            await store.close()

    rows = asyncio.run(fetch())
    from receiver.events import isoformat

    for row in rows:
        if as_json:
            click.echo(
                jsonutil.show(
                    {
                        "id": row.id,
                        "source": row.source_id,
                        "type": row.type,
                        "subject": row.subject,
                        "received_at": isoformat(row.received_at),
                        "normalize_error": row.normalize_error,
                        "matched_rules": row.matched_rules,
                        "rules_version": row.rules_version,
                        "envelope": row.envelope,
                    },
                    sort_keys=True,
                )
            )
        else:
            note = f"  ! {row.normalize_error}" if row.normalize_error else ""
            click.echo(
                f"{row.id}  {isoformat(row.received_at)}  {row.source_id:<16} {row.type:<24} {row.subject or '-'}{note}"
            )
    if not rows and not as_json:
        click.echo("no events", err=True)


@main.command()
@CONFIG_OPTION
@click.option("--source", "source_id", required=True, help="The source whose scheme and secret sign the payload.")
@click.option("--url", default=None, help="Where to post (default: this config's server /hooks/<source>).")
@click.option("--header", "extra_headers", multiple=True, help="Extra header 'Name: value' (repeatable).")
@click.argument("payload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def send(config_path: Path, source_id: str, url: str | None, extra_headers: tuple[str, ...], payload: Path) -> None:
    """Sign PAYLOAD with the source's scheme and secret and post it: test your setup end to end."""
    import httpx

    from receiver.verify import SCHEMES

    config = load_or_exit(config_path, secrets=True)
    src = config.sources.get(source_id)
    if src is None:
        raise click.BadParameter(f"no source {source_id!r} in {config_path}", param_hint="--source")
    body = payload.read_bytes()
    headers = {"Content-Type": "application/json", "User-Agent": f"hookyard-send/{__version__}"}
    delivery_id = str(uuid.uuid4())
    if src.delivery_id_header:
        headers[src.delivery_id_header] = delivery_id
    if src.scheme != "none":
        try:
            headers.update(
                SCHEMES[src.scheme].sign(src.verify_options, src.secrets[0], body, time.time(), delivery_id=delivery_id)
            )
        except ValueError as exc:
            raise click.ClickException(f"cannot sign for source {source_id!r}: {exc}") from None
    headers.update(parse_headers(extra_headers))
    target = url or f"http://{config.server.host}:{config.server.port}/hooks/{source_id}"
    try:
        resp = httpx.post(target, content=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"POST {target} failed: {exc}") from None
    click.echo(f"{resp.status_code} {resp.text}")
    sys.exit(0 if resp.is_success else 1)


@main.command()
@CONFIG_OPTION
@click.option("--source", "source_id", required=True, help="The source whose adapter normalizes the payload.")
@click.option("--header", "extra_headers", multiple=True, help="Header 'Name: value' (e.g. 'X-GitHub-Event: push').")
@click.argument("payload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def normalize(config_path: Path, source_id: str, extra_headers: tuple[str, ...], payload: Path) -> None:
    """Print the envelope the daemon would store for PAYLOAD (no verification, nothing stored)."""
    from receiver.events import build_envelope
    from receiver.ids import new_id
    from receiver.sources.base import safe_normalize
    from receiver.verify.base import RawRequest

    config = load_or_exit(config_path)
    src = config.sources.get(source_id)
    if src is None:
        raise click.BadParameter(f"no source {source_id!r} in {config_path}", param_hint="--source")
    headers = {k.lower(): v for k, v in parse_headers(extra_headers).items()}
    req = RawRequest(body=payload.read_bytes(), headers=headers)
    now = time.time()
    envelope = build_envelope(
        safe_normalize(src.adapter, req), event_id=new_id("evt", now), source_id=src.id, received_at=now
    )
    click.echo(json.dumps(envelope, indent=2, sort_keys=False))


def _register() -> None:
    from receiver.cli.deliveries import deliveries, replay, retry
    from receiver.cli.rules import rules

    for command in (rules, deliveries, retry, replay):
        main.add_command(command)
    from receiver.cli.runs import runs

    main.add_command(runs)
    from receiver.cli.db import db

    main.add_command(db)
    from receiver.cli.silence import silence

    main.add_command(silence)


_register()
