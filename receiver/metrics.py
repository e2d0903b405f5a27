"""Counters per source, exposed in Prometheus text format at ``/metrics``.

With several receiver processes (``server.processes``) each counts into files in
``PROMETHEUS_MULTIPROC_DIR`` (set by the supervisor) and ``/metrics`` sums them all,
whichever process answers.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


class Metrics:
    """One registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._received = Counter(
            "hookyard_events_received",
            "Verified webhooks stored or deduplicated",
            ["source", "duplicate"],
            registry=self.registry,
        )
        self._rejected = Counter(
            "hookyard_requests_rejected",
            "Requests refused by verification",
            ["source", "code"],
            registry=self.registry,
        )
        self._refused = Counter(
            "hookyard_connections_refused",
            "Client connections closed by the HTTP limits (server.*), by reason",
            ["reason"],
            registry=self.registry,
        )

        self._received_children: dict[tuple[str, bool], Counter] = {}

    def received(self, source: str, duplicate: bool) -> None:
        # Once per request: keep the labelled child instead of looking it up each time.
        child = self._received_children.get((source, duplicate))
        if child is None:
            child = self._received.labels(source, "true" if duplicate else "false")
            self._received_children[(source, duplicate)] = child
        child.inc()

    def rejected(self, source: str, code: str) -> None:
        self._rejected.labels(source, code).inc()

    def connection_refused(self, reason: str) -> None:
        self._refused.labels(reason).inc()

    def rejected_count(self, source: str, code: str) -> float:
        value = self.registry.get_sample_value(
            "hookyard_requests_rejected_total", {"source": source, "code": code}
        )
        return value or 0.0

    def render(self) -> bytes:
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if shared:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=shared)
            return generate_latest(registry)
        return generate_latest(self.registry)
