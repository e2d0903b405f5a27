"""Polling: follow runs on platforms that send no webhooks (see ``base.py`` for the interface)."""

from __future__ import annotations

from receiver.polling import automatedfuture, fusillade, nunu
from receiver.polling.base import PollerSpec

# One entry per platform module.
POLLERS: dict[str, PollerSpec] = {spec.platform: spec for spec in (fusillade.SPEC, nunu.SPEC, automatedfuture.SPEC)}


def started_run_pollers() -> frozenset[str]:
    """The platforms whose runs are polled once a trigger starts them (``follows_started_runs``)."""
    return frozenset(p for p, spec in POLLERS.items() if spec.follows_started_runs)
