"""Sink kinds: one module per kind, one registry (``SINKS``) the config loader reads."""

from __future__ import annotations

from receiver.sinks import github_status, http, notify, presets
from receiver.sinks.base import SendContext, SendResult, Sink, SinkSpec

SINKS: dict[str, SinkSpec] = {spec.kind: spec for spec in (notify.SPEC, github_status.SPEC, http.SPEC, *presets.SPECS)}

__all__ = ["SINKS", "SendContext", "SendResult", "Sink", "SinkSpec"]
