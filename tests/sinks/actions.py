"""Sending rule action params to a sink as the dispatcher does: parsed into the sink's model once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from receiver.sinks.base import SendContext, SendResult, Sink, parse_action


def action(sink: Sink, params: Mapping[str, Any]) -> BaseModel:
    """``params`` as ``sink``'s action model (a DeliveryError, as at send, when it refuses them)."""
    return parse_action(sink.action_model, params)


async def send(sink: Sink, params: Mapping[str, Any], ctx: SendContext) -> SendResult:
    """One attempt with ``params``, the way the dispatcher makes it."""
    return await sink.send(action(sink, params), ctx)
