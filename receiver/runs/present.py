"""Runs as plain JSON-ready dicts, and their query parameters: one shape for the API and the CLI."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from receiver.errors import HTTPError
from receiver.events import isoformat
from receiver.runs.model import TRANSITIONS
from receiver.sources.fields import OUTCOMES
from receiver.store.runs import RunQuery, RunRow

_KEY = re.compile(r"^run_[0-9a-f]{1,64}$")
FILTERS = ("platform", "name", "branch", "pr", "outcome", "transition")


def run_dict(r: RunRow) -> dict[str, Any]:
    return {
        "key": r.key,
        "source": r.source_id,
        "platform": r.platform,
        "run_id": r.run_id,
        "name": r.name,
        "project": r.project,
        "status": r.status,
        "outcome": r.outcome,
        "final": r.final,
        "url": r.url,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "duration_ms": r.duration_ms,
        "git": {"repo": r.repo, "sha": r.sha, "branch": r.branch, "pr": r.pr},
        "metrics": r.metrics,
        "counts": r.counts,
        "previous_key": r.previous_key,
        "transition": r.transition,
        "first_event_id": r.first_event_id,
        "last_event_id": r.last_event_id,
        "trigger_event_id": r.trigger_event_id,
        "trigger_delivery_id": r.trigger_delivery_id,
        "correlation_id": r.correlation_id,  # of the chain whose follow-up call started the run
        "created_at": isoformat(r.created_at),
        "updated_at": isoformat(r.updated_at),
    }


def is_run_key(value: str) -> bool:
    return bool(_KEY.match(value))


def run_query(params: Mapping[str, str | None], limit: int) -> RunQuery:
    """A query from request parameters or CLI options; a bad value is a 400 naming it."""
    values: dict[str, Any] = {}
    for name in (*FILTERS, "before"):
        raw = params.get(name)
        value = raw.strip() if raw else ""
        if not value:
            continue
        if len(value) > 200:
            raise HTTPError(f"{name} is longer than 200 characters", code=f"bad_{name}")
        values[name] = value
    if "pr" in values:
        if not values["pr"].isdigit() or len(values["pr"]) > 18:
            raise HTTPError("pr must be a pull request number", code="bad_pr")
        values["pr"] = int(values["pr"])
    if values.get("outcome", OUTCOMES[0]) not in OUTCOMES:
        raise HTTPError(f"outcome must be one of: {', '.join(OUTCOMES)}", code="bad_outcome")
    if values.get("transition", TRANSITIONS[0]) not in TRANSITIONS:
        raise HTTPError(f"transition must be one of: {', '.join(TRANSITIONS)}", code="bad_transition")
    if "before" in values and not is_run_key(values["before"]):
        raise HTTPError("before must be a run key (the last key of the previous page)", code="bad_before")
    return RunQuery(**values, limit=limit)
