"""nunu.ai: a run's status and its new bugs, read from the REST API (nunu-api.txt).

``GET /runs/{runId}`` answers the run (status, artifacts); ``GET /runs/{runId}/bugs`` the
bugs found so far. Both are read through the nunu webhook preset's own mapping
(``receiver.sources.nunu``), so a polled run and a posted one make the same events:
``run.queued`` / ``run.started`` / ``run.completed`` / ``run.failed`` / ``run.cancelled``
(by the shared status vocabulary) with ``data.run`` and ``data.counts``, and one
``bug.reported`` per bug with ``data.bug``.

The cursor remembers the last status seen and the ids of the bugs already reported (the
newest :data:`MAX_BUG_IDS`; the engine's one event per key catches any older one seen
again). The bugs are read after the run, so at a final status they are the run's last
ones: the poll that sees the final status reports them before the final event and ends.
``discover`` lists runs with ``GET /runs?status=…`` (``watch:``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from receiver.events import Normalized
from receiver.polling.base import Discovered, Fetch, Observation, PollerSpec, PollResult, status_step
from receiver.sinks.outbound import segment
from receiver.sources import fields, nunu
from receiver.sources.payload import as_dict, pick
from receiver.sources.vocab import FINAL_TYPES

PLATFORM = "nunu"
MAX_BUG_IDS = 1000
# What ``watch:`` follows when it names no status: runs not finished yet.
WATCH_STATUSES = ("queued", "running")
_WAITING = frozenset({"run.scheduled", "run.queued"})
# Where a list answer keeps its items when it is not a bare list.
_LIST_KEYS = ("data", "items", "results")


class NunuPoller:
    platform = PLATFORM

    def __init__(self) -> None:
        self._adapter = nunu.create(None)

    async def poll(self, run_id: str, cursor: Mapping[str, Any], fetch: Fetch) -> PollResult:
        run_answer = (await fetch(f"/runs/{segment(run_id)}", {})).body
        run = _named(self._adapter.from_payload(run_answer), run_id)
        status = _status(run)
        final = run.type in FINAL_TYPES
        # A run still waiting has found nothing yet: one request instead of two.
        bugs_answer = None if run.type in _WAITING else (await fetch(f"/runs/{segment(run_id)}/bugs", {})).body
        seen = [str(b) for b in cursor.get("bugs", [])]
        known = set(seen)
        bugs: list[Observation] = []
        for bug in items(bugs_answer, "bugs"):
            n = self._adapter.from_payload(nunu.bug_payload(run_id, bug))
            bug_id = (n.data.get("bug") or {}).get("id")
            if bug_id is None or bug_id in known:
                continue  # a bug without an id cannot be told from the next poll's: left to the webhook
            known.add(bug_id)
            seen.append(bug_id)
            bugs.append(Observation(f"bug:{bug_id}", n))
        key, status_cursor = status_step(cursor, status)
        observations = bugs
        if key is not None:
            step = Observation(key, run)
            # A final status closes the run: its last bugs come before it; otherwise it leads.
            observations = [*bugs, step] if final else [step, *bugs]
        next_cursor = {**status_cursor, "bugs": seen[-MAX_BUG_IDS:]}
        answer = {"run": run_answer, "bugs": bugs_answer}
        return PollResult(answer=answer, observations=observations, final=final, cursor=next_cursor)

    async def discover(self, options: Mapping[str, Any], fetch: Fetch) -> list[Discovered]:
        wanted = watch_statuses(options)
        found = (await fetch("/runs", {"status": ",".join(wanted)})).body
        runs: list[Discovered] = []
        for obj in items(found, "runs"):
            run = self._adapter.from_payload(obj)
            run_id = (run.data.get("run") or {}).get("id")
            status = _status(run)
            # A platform that ignores the filter still only starts polls of runs it asked for.
            if run_id is not None and (status is None or status in wanted):
                runs.append(Discovered(run_id, status))
        return runs


def watch_statuses(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The statuses ``watch:`` options ask for (``status``: one word or a list), lower-case."""
    given = options.get("status")
    if given is None:
        return WATCH_STATUSES
    words = [given] if isinstance(given, str) else list(given)
    return tuple(str(word).strip().lower() for word in words)


def items(answer: Any, name: str) -> list[Any]:
    """The objects of a list answer: a bare list, or the list under ``name`` / ``data`` / ``items``."""
    if isinstance(answer, list):
        return answer
    found = pick(as_dict(answer), name, *_LIST_KEYS)
    if isinstance(found, dict):  # {"data": {"bugs": […]}}
        found = pick(found, name, *_LIST_KEYS)
    return found if isinstance(found, list) else []


def _named(n: Normalized, run_id: str) -> Normalized:
    """``n`` naming the polled run when the answer did not (so its events find their run)."""
    section = n.data.get("run")
    if isinstance(section, dict) and section.get("id") is not None:
        return n
    n.data["run"] = {**(section or dict.fromkeys(fields.SECTIONS["run"])), "id": run_id}
    n.subject = n.subject or run_id
    return n


def _status(n: Normalized) -> str | None:
    status = (n.data.get("run") or {}).get("status")
    return str(status).strip().lower() if status is not None else None


class WatchOptions(BaseModel):
    """``watch:`` on a nunu source: the statuses ``GET /runs?status=`` asks for (one or a list)."""

    model_config = ConfigDict(extra="forbid")
    status: Any = None

    @field_validator("status")
    @classmethod
    def _words(cls, value: Any) -> Any:
        words = [value] if isinstance(value, str) else value
        if value is not None and not (isinstance(words, list) and words and all(isinstance(w, str) for w in words)):
            raise ValueError("must be a status word or a list of them")
        return value


SPEC = PollerSpec(platform=PLATFORM, create=NunuPoller, can_discover=True, watch_options=WatchOptions)
