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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from receiver.config import Config, load_config
from receiver.errors import ConfigError
from receiver.logfmt import log_event
from receiver.rules import RuleSet, load_rules_for

log = logging.getLogger("hookyard.reload")


def load(path: Path) -> tuple[Config, RuleSet]:
    """The config file at ``path`` and its rule files, compiled (raises ConfigError)."""
    config = load_config(path)
    return config, load_rules_for(config)


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
    """Reloads the config at ``config.path``: ``apply`` runs what loaded, ``on_error`` hears why
    nothing did, ``count`` counts each result (``ok``, ``refused``, ``failed``)."""

    def __init__(
        self,
        config: Config,
        *,
        apply: Callable[[Config, RuleSet], None],
        on_error: Callable[[str], None],
        count: Callable[[str], None] = lambda result: None,
        load: Callable[[Path], tuple[Config, RuleSet]] = load,
    ) -> None:
        self.config = config  # the config in force: what a reload compares with
        self.apply = apply
        self.on_error = on_error
        self.count = count
        self.load = load
        self._lock = asyncio.Lock()
        self.reloads = 0

    def reload(self) -> bool:
        """Load and swap; True when the new config and rules are running."""
        path = self.config.path
        try:
            config, ruleset = self.load(path)
        except ConfigError as exc:
            self.on_error(str(exc))
            log.error("reload refused; the previous config and rules keep running:\n%s", exc)
            self._done("refused", problems=len(exc.problems))
            return False
        except Exception as exc:
            # A file that trips something unforeseen must not stop the file watcher: the next
            # edit is reloaded again, and the old config and rules keep running meanwhile.
            self.on_error(f"{path}: reload failed ({type(exc).__name__}); see the log")
            log.exception("reload failed; the previous config and rules keep running")
            self._done("failed")
            return False
        restart = _restart_needed(self.config, config)
        if restart:
            error = (
                f"{config.path}: changes to {', '.join(restart)} need a restart; "
                "the previous config and rules keep running"
            )
            self.on_error(error)
            log.error("%s", error)
            self._done("refused", restart_needed=restart)
            return False
        self.apply(config, ruleset)
        self.config = config
        self.reloads += 1
        self._done("ok", sources=len(config.sources), rules=len(ruleset.rules), rules_version=ruleset.version)
        return True

    def _done(self, result: str, **fields: object) -> None:
        """One structured line and one count per reload: ``ok``, ``refused`` (located problems) or ``failed``."""
        level = logging.INFO if result == "ok" else logging.ERROR
        log_event(log, level, "rules.reload", result=result, config=self.config.path, **fields)
        self.count(result)

    def watched_paths(self) -> list[Path]:
        paths = [self.config.path, *self.config.rule_paths]
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
