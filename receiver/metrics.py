"""Hookyard's Prometheus metrics, exposed in text format at ``/metrics``.

With several processes (``server.processes``) each counts into files in
``PROMETHEUS_MULTIPROC_DIR`` (set by the supervisor) and ``/metrics`` sums them all,
whichever process answers. The queue gauges are not counted anywhere: they are read
from the store at scrape time (:class:`QueueSnapshot`), so every process answers the
same, and they are added to the answer as they are.

Every metric is listed in README.md ("Metrics"); ``docs/alerts.yaml`` uses them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Seconds. Sends to chat and APIs take tens of ms to a few s; timeouts end at 10 s by default.
SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Receipt → delivered spans a fast path (ms) and retries over hours.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)
# A group commit is well under a ms to a few ms; the lock wait of another process adds more.
WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# Breaker states as numbers, so an alert can say `> 0`.
BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


@dataclass(frozen=True)
class QueueSnapshot:
    """What the store says at scrape time: deliveries per state, the oldest due one's age."""

    depth: dict[str, int] = field(default_factory=dict)
    oldest_due_age: float = 0.0


class _QueueCollector(Collector):
    def __init__(self, snapshot: QueueSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("hookyard_queue_depth", "Deliveries in the store by state", labels=["state"])
        for state, n in sorted(self.snapshot.depth.items()):
            depth.add_metric([state], float(n))
        yield depth
        yield GaugeMetricFamily(
            "hookyard_oldest_due_age_seconds",
            "How long the longest-waiting due delivery has been due (0 when none is)",
            value=self.snapshot.oldest_due_age,
        )


class Metrics:
    """One registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._received = Counter(
            "hookyard_events_received", "Verified webhooks stored or deduplicated", ["source", "duplicate"], registry=r
        )
        self._rejected = Counter(
            "hookyard_requests_rejected", "Requests refused by verification", ["source", "code"], registry=r
        )
        self._refused = Counter(
            "hookyard_connections_refused",
            "Client connections closed by the HTTP limits (server.*), by reason",
            ["reason"],
            registry=r,
        )

        self._deliveries = Counter(
            "hookyard_deliveries", "Deliveries that reached a final state", ["sink", "state"], registry=r
        )
        self._dead = Counter("hookyard_dead_letters", "Deliveries that went dead", ["sink"], registry=r)
        self._silenced = Counter(
            "hookyard_deliveries_silenced", "Deliveries silenced (never sent) by reason", ["sink", "reason"], registry=r
        )
        self._suppressed = Counter(
            "hookyard_deliveries_suppressed", "Deliveries suppressed by repeat_interval", ["sink"], registry=r
        )
        self._attempts = Counter(
            "hookyard_attempts", "Attempts by outcome: succeeded, retryable, permanent", ["sink", "outcome"], registry=r
        )
        self._attempt_seconds = Histogram(
            "hookyard_attempt_duration_seconds", "Time one attempt took", ["sink"], buckets=SEND_BUCKETS, registry=r
        )
        self._lag = Histogram(
            "hookyard_delivery_lag_seconds",
            "From receipt of the event to its delivery succeeding",
            ["sink"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        # Only the process that delivers sets it; the others never write a value.
        self._breaker = Gauge(
            "hookyard_breaker_state",
            "Circuit breaker per sink: 0 closed, 1 half-open, 2 open",
            ["sink"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self._store_write = Histogram(
            "hookyard_store_write_seconds",
            "Store write latency, as the caller waits",
            buckets=WRITE_BUCKETS,
            registry=r,
        )
        self._reloads = Counter("hookyard_rule_reloads", "Config and rule reloads by result", ["result"], registry=r)
        # Retention (receiver/pruner.py): only the process that delivers prunes.
        self._pruned = Counter(
            "hookyard_retention_pruned_rows", "Rows deleted by retention, by table", ["table"], registry=r
        )
        self._prune_passes = Counter("hookyard_retention_passes", "Retention passes completed", registry=r)
        self._prune_errors = Counter("hookyard_retention_errors", "Retention passes that failed", registry=r)
        self._prune_seconds = Gauge(
            "hookyard_retention_last_pass_seconds",
            "How long the last completed retention pass took",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._reclaimed = Counter(
            "hookyard_retention_reclaimed_bytes", "Bytes SQLite gave back to the disk (incremental vacuum)", registry=r
        )
        # Grouped actions (rules: group:): opened where events are stored, sent where deliveries are.
        self._groups_opened = Counter("hookyard_groups_opened", "Groups opened by grouped actions", registry=r)
        self._groups_sent = Counter("hookyard_groups_sent", "Groups sent as one delivery", ["rule"], registry=r)
        self._group_members = Counter(
            "hookyard_group_members", "Events sent as members of a group", ["rule"], registry=r
        )
        self._groups_capped = Counter(
            "hookyard_groups_capped",
            "Groups with more members than their message shows (max_events)",
            ["rule"],
            registry=r,
        )
        # Polling (receiver/polling/engine.py): only the process that delivers polls.
        self._polls = Counter(
            "hookyard_polls", "Polls of watched runs by platform and result", ["platform", "result"], registry=r
        )
        self._poll_give_ups = Counter(
            "hookyard_poll_give_ups", "Runs given up after polling.max_duration_seconds", ["platform"], registry=r
        )
        self._runs_watched = Gauge(
            "hookyard_runs_watched", "Runs being polled (from the store)", registry=r, multiprocess_mode="mostrecent"
        )
        self._received_children: dict[tuple[str, bool], Counter] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: per attempt, ``labels()`` (a lock and
        validation each call) cost more than the increment itself."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

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
        value = self.registry.get_sample_value("hookyard_requests_rejected_total", {"source": source, "code": code})
        return value or 0.0

    def attempt(self, sink: str, outcome: str, seconds: float) -> None:
        self._child(self._attempts, sink, outcome).inc()
        self._child(self._attempt_seconds, sink).observe(seconds)

    def finished(self, sink: str, state: str, lag: float | None = None) -> None:
        """A delivery reached ``state`` (succeeded, dead, superseded); ``lag`` since receipt."""
        self._child(self._deliveries, sink, state).inc()
        if state == "dead":
            self._child(self._dead, sink).inc()
        if lag is not None:
            self._child(self._lag, sink).observe(max(lag, 0.0))

    def held(self, sink: str, state: str, cause: str) -> None:
        """A delivery held back on purpose: silenced (cause: silence, mute_time) or suppressed."""
        if state == "silenced":
            self._child(self._silenced, sink, cause).inc()
        else:
            self._child(self._suppressed, sink).inc()

    def breaker(self, sink: str, state: str) -> None:
        self._breaker.labels(sink).set(BREAKER_VALUES[state])

    def store_write(self, seconds: float) -> None:
        self._store_write.observe(seconds)

    def reload(self, result: str) -> None:
        self._reloads.labels(result).inc()

    def pruned(self, rows: Mapping[str, int], seconds: float, reclaimed_bytes: int) -> None:
        """A retention pass completed: rows deleted per table, its duration, bytes given back."""
        for table, n in rows.items():
            self._pruned.labels(table).inc(n)
        self._prune_passes.inc()
        self._prune_seconds.set(seconds)
        self._reclaimed.inc(reclaimed_bytes)

    def groups_opened(self, n: int) -> None:
        self._groups_opened.inc(n)

    def group_sent(self, rule: str, members: int) -> None:
        self._child(self._groups_sent, rule).inc()
        self._child(self._group_members, rule).inc(members)

    def group_capped(self, rule: str) -> None:
        self._child(self._groups_capped, rule).inc()

    def prune_failed(self) -> None:
        self._prune_errors.inc()

    def polled(self, platform: str, result: str) -> None:
        """One poll: changed, unchanged, failed, throttled (429), held_back (rate limit), timed_out."""
        self._child(self._polls, platform, result).inc()

    def poll_gave_up(self, platform: str) -> None:
        self._child(self._poll_give_ups, platform).inc()

    def runs_watched(self, n: int) -> None:
        self._runs_watched.set(n)

    def render(self, queue: QueueSnapshot | None = None) -> bytes:
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if shared:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=shared)
        else:
            registry = self.registry
        text = generate_latest(registry)
        if queue is not None:
            scraped = CollectorRegistry()
            scraped.register(_QueueCollector(queue))
            text += generate_latest(scraped)
        return text
