"""What ``serve`` checks before it answers anything, shared with ``check``.

Every failure here is a :class:`StartupError` with a one-line message (the CLI prints it
and exits 1), raised before uvicorn starts: a daemon that cannot run says so once, with
no "Application startup complete" and no traceback before it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import os
import re
import socket

from receiver.config import Config
from receiver.errors import ConfigError, HookyardError
from receiver.rules import RuleSet

# The example config's defaults are marked like this ("whsec_dev_only_fusillade",
# "dev-only-github-secret", whsec_ keys whose bytes say "dev-only-…"): public values that
# only exist so the file runs out of the box on a laptop.
_DEV_ONLY = re.compile(r"dev[-_]only", re.IGNORECASE)
ALLOW_DEV_SECRETS_ENV = "HOOKYARD_ALLOW_DEV_SECRETS"


class StartupError(HookyardError):
    """The daemon cannot start; the message is one line that says why."""


def preflight(config: Config) -> RuleSet:
    """Everything ``serve`` loads before listening: rules, live sinks, the store (opened,
    migrated, closed). Returns the rules; raises ConfigError or a HookyardError."""
    from receiver.polling.options import problems as polling_problems
    from receiver.rules import load_rules_for
    from receiver.runtime import build_sinks
    from receiver.sinks.client import HttpClient

    poll_problems = polling_problems(config)
    try:
        ruleset = load_rules_for(config)
    except ConfigError as exc:  # every problem at once: the config's, then the rule files'
        raise ConfigError([*poll_problems, *exc.problems]) from None
    if poll_problems:
        raise ConfigError(poll_problems)
    build_sinks(config, HttpClient())  # no I/O: building validates what config could not
    asyncio.run(_open_store(config))
    return ruleset


async def _open_store(config: Config) -> None:
    from receiver.store import prepare_store

    try:
        # Opened with the configured timeouts; what the store can explain is a StoreUnavailable line.
        await prepare_store(config)
    except OSError as exc:
        # An OS error left over still gets one line.
        raise StartupError(f"cannot open the store: {os_error_line(exc)}") from None


def os_error_line(exc: OSError) -> str:
    """An OS error as one line naming its file; a dangling symbolic link says where it points."""
    name = os.fsdecode(exc.filename) if exc.filename is not None else None
    if name is not None and os.path.islink(name) and not os.path.exists(name):
        return f"{name} is a symbolic link to {os.readlink(name)}, which does not exist"
    reason = exc.strerror or str(exc)
    return f"{name}: {reason}" if name is not None else reason


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_dev_only(secret: str) -> bool:
    """Whether a secret is one of the example config's public dev-only values."""
    if _DEV_ONLY.search(secret):
        return True
    key = secret.split("_", 1)[1] if secret.startswith(("whsec_", "whsk_", "whpk_")) else ""
    try:
        decoded = base64.b64decode(key, validate=True).decode("utf-8", "replace") if key else ""
    except (binascii.Error, ValueError):
        return False
    return bool(_DEV_ONLY.search(decoded))


def dev_secret_sources(config: Config) -> list[str]:
    return [s.id for s in config.sources.values() if any(is_dev_only(x.reveal()) for x in s.secrets)]


def exposure_problem(config: Config, host: str, *, allow_dev_secrets: bool = False) -> str | None:
    """Why the daemon must not listen on ``host``: a non-loopback address while a source
    still verifies with a public dev-only secret (anyone could sign webhooks)."""
    if is_loopback(host) or allow_dev_secrets or os.environ.get(ALLOW_DEV_SECRETS_ENV) == "1":
        return None
    dev = dev_secret_sources(config)
    if not dev:
        return None
    return (
        f"refusing to listen on {host}: sources {', '.join(dev)} still use the example config's public "
        f"dev-only secrets; set their real secrets through the environment (see {config.path.name}), "
        f"or pass --allow-dev-secrets (or {ALLOW_DEV_SECRETS_ENV}=1) for a demo"
    )


def exposure_warning(config: Config, host: str) -> str | None:
    """What a daemon reachable from other hosts cannot do yet: its page answers loopback only."""
    if is_loopback(host) or not config.web_enabled or config.web_token:
        return None
    return (
        f"listening on {host} without web.token: /ui and /api answer loopback clients only "
        "(from outside a container that is every client); set web.token (HOOKYARD_WEB_TOKEN in the example config)"
    )


def listen_socket(host: str, port: int) -> socket.socket:
    """The bound listening address, or one line saying why it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise StartupError(f"cannot listen on {host}:{port}: {reason[:1].lower()}{reason[1:]}") from None
    return sock
