"""Hot reload of the config's sources and the rule files (file watching and SIGHUP).

A valid change swaps atomically (one reference each for sources and rules, read once
per request). An invalid change keeps everything that runs, logs the located problems
and shows them on ``/readyz`` until a later change fixes them. Sinks, storage, server
and delivery settings hold live resources: changing them needs a restart, and a
reload that changes them is refused as a whole so rules never name a sink that is not
running.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from receiver.config import Config, load_config
from receiver.errors import ConfigError
from receiver.logfmt import log_event
from receiver.routing import load_rules_for

if TYPE_CHECKING:
    from receiver.app import Hookyard

log = logging.getLogger("hookyard.reload")


def _sink_signature(config: Config) -> dict[str, tuple[str, Any]]:
    return {sid: (s.kind, s.options.model_dump()) for sid, s in config.sinks.items()}


def _restart_needed(old: Config, new: Config) -> list[str]:
    changed = []
    if _sink_signature(old) != _sink_signature(new):
        changed.append("sinks")
    if old.storage_url != new.storage_url or old.storage != new.storage:
        changed.append("storage")
    if old.server != new.server:
        changed.append("server")
    if old.delivery != new.delivery:
        changed.append("delivery")
    return changed


class Reloader:
    def __init__(self, hy: Hookyard) -> None:
        self.hy = hy
        self._lock = asyncio.Lock()
        self.reloads = 0

    def reload(self) -> bool:
        """Load and swap; True when the new config and rules are running."""
        router = self.hy.router
        try:
            config = load_config(self.hy.config.path)
            ruleset = load_rules_for(config)
        except ConfigError as exc:
            router.reload_error = str(exc)
            log.error("reload refused; the previous config and rules keep running:\n%s", exc)
            self._done("refused", problems=len(exc.problems))
            return False
        except Exception as exc:
            # A file that trips something unforeseen must not stop the file watcher: the next
            # edit is reloaded again, and the old config and rules keep running meanwhile.
            router.reload_error = f"{self.hy.config.path}: reload failed ({type(exc).__name__}); see the log"
            log.exception("reload failed; the previous config and rules keep running")
            self._done("failed")
            return False
        restart = _restart_needed(self.hy.config, config)
        if restart:
            router.reload_error = (
                f"{config.path}: changes to {', '.join(restart)} need a restart; "
                "the previous config and rules keep running"
            )
            log.error("%s", router.reload_error)
            self._done("refused", restart_needed=restart)
            return False
        # The running sinks stay; only sources and rules are swapped.
        config.sinks = self.hy.config.sinks
        self.hy.config = config
        self.hy.ingest.config = config
        router.swap(ruleset)
        self.reloads += 1
        self._done("ok", sources=len(config.sources), rules=len(ruleset.rules), rules_version=ruleset.version)
        return True

    def _done(self, result: str, **fields: object) -> None:
        """One structured line and one count per reload: ``ok``, ``refused`` (located problems) or ``failed``."""
        level = logging.INFO if result == "ok" else logging.ERROR
        log_event(log, level, "rules.reload", result=result, config=self.hy.config.path, **fields)
        self.hy.metrics.reload(result)

    def watched_paths(self) -> list[Path]:
        paths = [self.hy.config.path, *self.hy.config.rule_paths]
        return [p for p in paths if p.exists()]

    async def watch(self) -> None:
        from watchfiles import awatch

        paths = self.watched_paths()
        async for _changes in awatch(*paths, debounce=200, step=50, recursive=True):
            async with self._lock:
                self.reload()

    def install_sighup(self) -> bool:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests) or no signals
            return False
        return True
