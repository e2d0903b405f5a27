"""Counters per source, exposed in Prometheus text format at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest


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

    def received(self, source: str, duplicate: bool) -> None:
        self._received.labels(source, "true" if duplicate else "false").inc()

    def rejected(self, source: str, code: str) -> None:
        self._rejected.labels(source, code).inc()

    def rejected_count(self, source: str, code: str) -> float:
        value = self.registry.get_sample_value(
            "hookyard_requests_rejected_total", {"source": source, "code": code}
        )
        return value or 0.0

    def render(self) -> bytes:
        return generate_latest(self.registry)
