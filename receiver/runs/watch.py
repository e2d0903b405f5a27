"""The config of polling (issue #14): ``polling:`` at the top level, ``poll:`` on a source.

Here, below ``config``, so that config compiles them and run tracking reads a source's ``poll:``
(which events start polling their run, ``runs/track.py``); the engine that acts on them is
``receiver/polling/engine.py``. Which platforms have a poller is checked where the pollers are
visible (``receiver/polling/options.py``), with the same ``file:line: key: problem`` lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from receiver.errors import Problem
from receiver.sinks.presets import PRESETS
from receiver.yamlfile import Located


class PollingModel(BaseModel):
    """``polling:``: how watched runs are polled (every source and trigger alike)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # The wait between two polls of one run (a source's ``poll.interval_seconds`` overrides it).
    interval_seconds: Annotated[float, Field(ge=1, le=3600)] = 15.0
    # Backing off (errors, nothing changing) never waits longer than this.
    max_interval_seconds: Annotated[float, Field(ge=1, le=86_400)] = 120.0
    # A run still not final this long after its polling started gives up with run.timed_out.
    max_duration_seconds: Annotated[float, Field(ge=1, le=30 * 86_400)] = 6 * 3600.0
    # A claimed poll is renewed while in flight; a dead poller's runs are claimable after this.
    lease_seconds: Annotated[float, Field(ge=5, le=3600)] = 60.0
    # Polls in flight at once, all platforms together (each sink's rate limit still applies).
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 32
    # How often ``watch:`` asks a platform's list endpoint for runs started elsewhere.
    watch_interval_seconds: Annotated[float, Field(ge=5, le=86_400)] = 60.0


class SourcePoll(BaseModel):
    """A source's ``poll:``: its runs are followed by asking the platform through ``sink``."""

    model_config = ConfigDict(extra="forbid")

    sink: str
    # Events of this source that start polling their run (the platform says a run started but
    # will not call back).
    start_on: list[str] = ["run.queued", "run.started"]
    interval_seconds: Annotated[float, Field(ge=1, le=3600)] | None = None
    # Ask the platform's list endpoint (its poller's ``discover``) for runs started elsewhere,
    # with these options (the platform's filter, e.g. ``{status: running}``).
    watch: dict[str, Any] | None = None

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self.start_on)


def poll_sink_problems(
    doc: Located, polls: Sequence[SourcePoll | None], sink_kinds: Mapping[str, str]
) -> list[Problem]:
    """Each source's ``poll.sink`` (``polls``, in source order) is a configured sink that can GET: an
    ``http`` sink or a platform preset (``sink_kinds``: sink id → kind)."""
    problems = []
    for i, poll in enumerate(polls):
        where = ("sources", i, "poll", "sink")
        if poll is not None and poll.sink not in sink_kinds:
            problems.append(doc.problem(where, f"no sink {poll.sink!r}"))
        elif poll is not None and sink_kinds[poll.sink] not in ("http", *PRESETS):
            problems.append(doc.problem(where, "must be an http sink or a platform preset"))
    return problems
