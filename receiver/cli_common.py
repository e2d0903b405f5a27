"""Pieces every ``hookyard`` command shares: the --config option and loading it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from receiver.config import Config, load_config
from receiver.errors import ConfigError

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="config.example.yaml",
    show_default=True,
    help="The config file.",
)


def load_or_exit(config_path: Path) -> Config:
    """The compiled config, or its located problems on stderr and exit 1."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)


def parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    """``--header 'Name: value'`` options as a dict."""
    out = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not 'Name: value'", param_hint="--header")
        out[name.strip()] = rest.strip()
    return out
