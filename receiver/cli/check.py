"""Warnings ``hookyard check`` adds to the located problems: things that load but will fail.

A sink whose fixed URL (``api_url``, ``base_url``) is a loopback, private or link-local
address is refused by the outbound guard at every send unless it sets ``allow_private``;
the config is valid, so this is a warning, found at load rather than in the delivery log.
Only literal addresses (and ``localhost``) are judged: names are resolved at send time.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx

from receiver.config import Config
from receiver.errors import Problem
from receiver.sinks.netguard import refusal
from receiver.yamlfile import load

URL_KEYS = ("api_url", "base_url")


def private_url_warnings(config: Config) -> list[Problem]:
    """One located warning per fixed sink URL the outbound guard will refuse."""
    found: list[tuple[str, str, str]] = []  # (sink id, key, why)
    for sink in config.sinks.values():
        if getattr(sink.options, "allow_private", True):
            continue  # kinds without the guard (apprise) have no such option
        for key in URL_KEYS:
            why = _refused(getattr(sink.options, key, None))
            if why is not None:
                found.append((sink.id, key, why))
    if not found:
        return []
    doc = load(config.path)  # only for the lines; values were checked by load_config
    positions = {s.get("id"): i for i, s in enumerate(doc.data.get("sinks") or []) if isinstance(s, dict)}
    return [
        doc.problem(
            ("sinks", positions.get(sink_id, 0), key),
            f"warning: {why}: every delivery will be refused unless the sink sets allow_private: true",
        )
        for sink_id, key, why in found
    ]


def _refused(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback address"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: resolved (and checked) when sending
    why = refusal(ip)
    return f"{host} is a {why}" if why else None
