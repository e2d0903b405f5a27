"""Building what a poller reads through: the platform's preset sink, as the runtime builds it."""

from __future__ import annotations

from typing import Any

from receiver.polling.base import Fetch
from receiver.sinks import SINKS
from receiver.sinks.client import HttpClient
from receiver.sinks.http import HttpSink


def preset_fetch(kind: str, client: HttpClient, base_url: str, key: str, **options: Any) -> Fetch:
    """The platform preset sink built as the runtime builds it (config model, then ``create``), read
    through ``HttpSink.get``; ``allow_private`` because the fakes listen on loopback."""
    spec = SINKS[kind]
    config = spec.config.model_validate({"api_key": key, "base_url": base_url, "allow_private": True, **options})
    sink = spec.create(f"{kind}-poll", config, client)
    assert isinstance(sink, HttpSink)  # every preset is one
    return sink.get
