"""Pieces every ``hookyard`` command shares: the --config option, loading it, and turning
every failure into one line on stderr with exit code 1 (click keeps 2 for usage errors)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from receiver.config import Config, load_config
from receiver.errors import ConfigError, HookyardError
from receiver.secret import redact_url

CONFIG_ENV = "HOOKYARD_CONFIG"
DEFAULT_CONFIG = Path("config.example.yaml")


_ORIGIN = "hookyard.config_origin"  # ctx.meta key: where the config path came from


def _resolve_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path:
    """``--config`` after the subcommand wins, then ``--config`` before it (or HOOKYARD_CONFIG,
    which the group reads), then the default file in the current folder."""
    root = ctx.find_root()
    given = root.params.get("config_path")
    if value is not None:
        ctx.meta[_ORIGIN] = "given with --config"
        return value
    if given is not None:
        from_env = root.get_parameter_source("config_path") == click.core.ParameterSource.ENVIRONMENT
        ctx.meta[_ORIGIN] = f"given by {CONFIG_ENV}" if from_env else "given with --config"
        return Path(given)
    ctx.meta[_ORIGIN] = f"the default, looked up in {Path.cwd()}"
    return DEFAULT_CONFIG


CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_resolve_config,
    help=f"The config file [default: ${CONFIG_ENV}, else {DEFAULT_CONFIG}].",
)


def fail(*lines: str) -> NoReturn:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(1)


def _missing_config(config_path: Path) -> str | None:
    if config_path.exists():
        return None
    ctx = click.get_current_context(silent=True)
    where = ctx.meta.get(_ORIGIN, "given") if ctx is not None else "given"
    return (
        f"{config_path}: no such config file ({where}); pass --config FILE (before or after the command) "
        f"or set {CONFIG_ENV}=FILE"
    )


def load_or_exit(config_path: Path, *, secrets: bool = False) -> Config:
    """The compiled config, or its located problems on stderr and exit 1.

    Commands that only read the store or the rules pass ``secrets=False`` (the default): an
    unset secret variable is then reported only where that secret is used, not at load.
    """
    missing = _missing_config(config_path)
    if missing is not None:
        fail(missing)
    try:
        return load_config(config_path, secrets=secrets)
    except ConfigError as exc:
        fail(*(str(p) for p in exc.problems))


def parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    """``--header 'Name: value'`` options as a dict."""
    out = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not 'Name: value'", param_hint="--header")
        out[name.strip()] = rest.strip()
    return out


def one_line(exc: BaseException) -> str:
    """An unexpected error as one line: its class and the first line of its message."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    # Driver messages may quote a connection URL; its credentials must not reach the terminal.
    words = [redact_url(w) if "://" in w else w for w in first.split(" ")]
    return f"{type(exc).__name__}: {' '.join(words)}" if first else type(exc).__name__


class Commands(click.Group):
    """The top-level group: no command ends with a traceback.

    Located config problems print one per line; any other Hookyard error (a store that
    cannot be opened, a port already in use, …) prints its one-line message; anything
    unexpected prints its class and first line. All exit 1.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except ConfigError as exc:
            fail(*(str(p) for p in exc.problems))
        except HookyardError as exc:
            fail(f"error: {exc}")
        except OSError as exc:
            from receiver.daemon.startup import os_error_line

            fail(f"error: {os_error_line(exc)}")
        except Exception as exc:
            fail(f"error: {one_line(exc)}")
