"""The running daemon's parts: store, router (the planner), sinks, dispatcher, metrics, clock.

``create_app`` builds one and hands each consumer the parts it uses (the request path,
the delivery log, the reloader), never this object: nothing below the app imports it.
``apply`` swaps a reloaded config's sources and rules in; ``reload_error`` says why the
last reload did not (``/readyz`` shows it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from receiver.config import Config
from receiver.delivery.dispatcher import Dispatcher
from receiver.ingest import Ingest
from receiver.metrics import Metrics
from receiver.polling import started_run_pollers
from receiver.polling.engine import PollEngine
from receiver.pruner import Pruner, longest_repeat_interval
from receiver.rules import Router, RuleSet
from receiver.sinks import SINKS
from receiver.sinks.client import HttpClient
from receiver.store import Store

log = logging.getLogger("hookyard.app")


def build_sinks(config: Config, http: HttpClient) -> dict[str, Any]:
    """Live sink objects for every configured sink (config was validated at load)."""
    return {sid: SINKS[s.kind].create(sid, s.options, http) for sid, s in config.sinks.items()}


class Runtime:
    """Holds the running parts; ``app.hookyard`` (and ``app.state.hookyard``) in the Starlette app."""

    def __init__(
        self,
        config: Config,
        store: Store,
        rules: RuleSet,
        clock: Callable[[], float],
        http: HttpClient,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.http = http
        self.metrics = Metrics()
        self.sinks = build_sinks(config, http)
        self.router = Router(rules, self.sinks)
        self.dispatcher = Dispatcher(
            store,
            self.sinks,
            {sid: s.options for sid, s in config.sinks.items()},
            self.router,
            config.delivery,
            clock=clock,
            metrics=self.metrics,
            poll_platforms=started_run_pollers() if config.polling.enabled else frozenset(),
        )
        if hasattr(store, "observe_write"):
            store.observe_write = self.metrics.store_write
        # storage.retention: runs beside the dispatcher, wherever deliveries are sent.
        self.pruner = Pruner(store, config.storage.retention, clock=clock, metrics=self.metrics,
                             keep_repeats=lambda: longest_repeat_interval(self.router.ruleset))  # fmt: skip
        # Tells the dispatcher new work is due: in this process, or in the dispatcher process.
        self.wake = wake or self.dispatcher.notify
        # polling: runs beside the dispatcher too, pacing its requests with the sinks' own limiters.
        self.poller = PollEngine(store, self.sinks, self.current_config, self.router, buckets=self.dispatcher.bucket,
                                 clock=clock, metrics=self.metrics, wake=self.wake)  # fmt: skip
        self.ingest = Ingest(config, store, self.router, self.metrics, clock, on_stored=self.wake)
        self.started_at = clock()
        # Why the last reload was refused (the previous config and rules keep running); None once one succeeds.
        self.reload_error: str | None = None
        # Why this process can no longer serve (its store writer died), once it cannot;
        # ``on_fatal`` then stops it (``serve`` makes that a non-zero exit).
        self.fatal: str | None = None
        self.on_fatal: Callable[[], None] = lambda: None
        store.on_failure(self.store_failed)

    def current_config(self) -> Config:
        """The config in force (a reload replaces it): for parts that outlive a reload."""
        return self.config

    def apply(self, config: Config, rules: RuleSet) -> None:
        """Run a reloaded config's sources and rules. The running sinks stay (changing them needs a restart)."""
        config.sinks = self.config.sinks
        self.config = config
        self.ingest.config = config
        self.router.swap(rules)
        self.reload_error = None

    def reload_failed(self, reason: str) -> None:
        self.reload_error = reason

    def breaker_states(self) -> dict[str, str] | None:
        """The sinks' circuit breakers, where this process delivers (None where it does not)."""
        return self.dispatcher.breaker_states() if self.dispatcher.running else None

    def store_failed(self, reason: str) -> None:
        self.fatal = reason
        log.error("%s; stopping so that a supervisor restarts the daemon", reason)
        self.on_fatal()
