"""Polling: follow runs on platforms that send no webhooks (see ``base.py`` for the interface)."""

from __future__ import annotations

from receiver.polling import automatedfuture, fusillade, nunu
from receiver.polling.base import PollerSpec

# One entry per platform module.
POLLERS: dict[str, PollerSpec] = {spec.platform: spec for spec in (fusillade.SPEC, nunu.SPEC, automatedfuture.SPEC)}
