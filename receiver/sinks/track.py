"""Which run a follow-up call started, read from the platform's answer (issue #13, "the trigger").

A preset declares where its start-run answer names the run (``Preset.run_key``); a generic
``http`` action declares it with ``track: {platform, run_id: "{{ response.… }}"}``, whose
template is rendered against the answer when the delivery succeeds (not when the event is
routed: the answer does not exist yet).

The row is keyed as the run's own webhooks will key it, (source id, platform run id), so they
find it: a preset's ``runs_source``, else the one configured source of the platform, else the
sink id (a platform that sends no webhooks, or one with several sources and no choice made).
``link_runs_sources`` resolves and checks this once, when the config loads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template
from pydantic import BaseModel, ConfigDict, field_validator

from receiver.errors import Problem
from receiver.templating import ENV, is_template
from receiver.yamlfile import Located

_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A platform run id is a short token; anything longer is not one (a whole answer rendered by mistake).
MAX_RUN_ID = 200


class TrackFailed(Exception):
    """The answer of a call that starts a run names no run: the success stands, the run is not tracked."""


@dataclass(frozen=True)
class StartedRun:
    """The run a successful call started: where its row is keyed and the platform's id."""

    source_id: str
    platform: str
    run_id: str


class TrackSpec(BaseModel):
    """``track:`` of an ``http`` action."""

    model_config = ConfigDict(extra="forbid")

    platform: str
    run_id: str

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        from receiver.sources import ADAPTERS

        if value not in ADAPTERS or not _PLATFORM.match(value):
            raise ValueError(f"unknown platform {value!r} (known: {', '.join(sorted(ADAPTERS))})")
        return value

    @field_validator("run_id")
    @classmethod
    def _a_template(cls, value: str) -> str:
        if not is_template(value) or "response" not in value:
            raise ValueError('must be a template that reads the answer, e.g. "{{ response.id }}"')
        return value


@lru_cache(maxsize=256)
def _template(source: str) -> Template:
    return ENV.from_string(source)  # checked when the rules loaded: it compiles


def run_id_from(value: Any, what: str) -> str:
    """A run id as the platform's webhooks will carry it (text); TrackFailed when there is none."""
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise TrackFailed(f"the answer names no run ({what} is {_kind(value)})")
    text = str(value).strip()
    if len(text) > MAX_RUN_ID:
        raise TrackFailed(f"the answer's {what} is not a run id ({len(text)} characters)")
    return text


def _kind(value: Any) -> str:
    """What a value is, never the value itself (an answer may echo credentials)."""
    return "missing" if value is None else f"a {type(value).__name__}" if not isinstance(value, str) else "empty"


def answer_key(body: Any, key: str) -> str:
    """The run id at ``key`` of a preset's JSON answer."""
    return run_id_from(body.get(key) if isinstance(body, Mapping) else None, key)


def rendered_run_id(spec: TrackSpec, body: Any, event: Mapping[str, Any]) -> str:
    """``track.run_id`` rendered against the answer (``response``) and the triggering ``event``."""
    try:
        text = _template(spec.run_id).render(response=body, event=event)
    except Exception as exc:  # a missing key in the answer: the run cannot be tracked, the call succeeded
        raise TrackFailed(f"track.run_id: {type(exc).__name__} while reading the answer") from None
    return run_id_from(text, "track.run_id")


def platform_sources(sources: Sequence[Any]) -> dict[str, str]:
    """Platform → its source id, for platforms with exactly one configured source."""
    by_kind: dict[str, list[str]] = {}
    for source in sources:
        by_kind.setdefault(source.kind, []).append(source.id)
    return {kind: ids[0] for kind, ids in by_kind.items() if len(ids) == 1}


def link_runs_sources(
    doc: Located, sinks: Sequence[Any], compiled: Mapping[str, Any], sources: Sequence[Any]
) -> list[Problem]:
    """Give every loaded sink's options the platforms' sources, and check each ``runs_source``
    (``sinks`` as written, ``compiled`` the loaded sinks by id, ``sources`` as written)."""
    kinds = {s.id: s.kind for s in sources}
    defaults = platform_sources(sources)
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, entry in enumerate(sinks):
        sink = compiled.get(entry.id)
        if entry.id in seen or sink is None or sink.options is None:
            continue  # a duplicate id, or a sink loaded without its secrets (nothing is sent)
        seen.add(entry.id)
        sink.options.link_sources(defaults)
        chosen = getattr(sink.options, "runs_source", None)
        if chosen is None:
            continue
        if chosen not in kinds:
            known = ", ".join(sorted(s for s, k in kinds.items() if k == sink.kind)) or "none configured"
            problems.append(
                doc.problem(("sinks", i, "runs_source"), f"unknown source {chosen!r} (of kind {sink.kind}: {known})")
            )
        elif kinds[chosen] != sink.kind:
            problems.append(
                doc.problem(
                    ("sinks", i, "runs_source"), f"source {chosen!r} is of kind {kinds[chosen]}, not {sink.kind}"
                )
            )
    return problems
