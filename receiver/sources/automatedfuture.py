"""Automated Future run and result objects.

Automated Future documents no webhook payload, so this adapter reads the objects its
API returns, bare or wrapped (``{"test_run": {...}}``, ``{"test_result": {...}}``),
in snake_case or camelCase:

- a *result* (has ``test_result_id`` or ``test_name``) -> ``result.reported`` with
  ``data.test`` (Passed/Failed/Skipped/KnownFail -> passed/failed/skipped/known_failure;
  Pending/Running -> null) and the parent run in ``data.run``;
- a *run* (has ``test_run_id`` and ``status``): Pending -> ``run.queued``, Running ->
  ``run.started``, Completed -> ``run.completed``. Result counts are read from
  ``result_counts`` / ``counts`` / ``results`` / ``summary`` (keys like ``Passed``,
  ``failed_count``, ``KnownFail``); a completed run is ``failed`` when any test
  failed, ``passed`` when counts show none did, and null when it carries no counts.

Code rather than a preset because the two object kinds and the count snapshot need
branching; a source's ``normalize:`` block is still laid over the result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from receiver.events import Normalized
from receiver.sources import fields
from receiver.sources.base import AdapterSpec, unknown
from receiver.sources.mapping import CodeAdapter, MappingOptions
from receiver.sources.payload import as_dict, has_any, pick
from receiver.verify.base import RawRequest

KIND = "automatedfuture"

RESULT_OUTCOMES = {
    "passed": "passed",
    "failed": "failed",
    "skipped": "skipped",
    "knownfail": "known_failure",
    "pending": None,
    "running": None,
}
RUN_TYPES = {"pending": "run.queued", "running": "run.started", "completed": "run.completed"}
COUNT_KEYS = {
    "passed": "passed",
    "failed": "failed",
    "skipped": "skipped",
    "knownfail": "known_failure",
    "knownfailure": "known_failure",
}


class AutomatedFutureAdapter(CodeAdapter):
    kind = KIND

    def from_payload(self, payload: Any, req: RawRequest) -> Normalized:
        return normalize_object(payload)


def normalize_object(payload: Any) -> Normalized:
    """The event a run or result object describes (a webhook body, or a ``GET /result/{id}`` answer)."""
    if not isinstance(payload, dict):
        return unknown(KIND, f"expected a JSON object, got {type(payload).__name__}", payload)
    result = as_dict(pick(payload, "test_result"))
    run = as_dict(pick(payload, "test_run"))
    if result is not None:
        return _result(result, payload)
    if run is not None:
        return _run(run, payload)
    if has_any(payload, "test_result_id", "test_name"):
        return _result(payload, payload)
    if has_any(payload, "test_run_id") and has_any(payload, "status"):
        return _run(payload, payload)
    return unknown(KIND, "neither a test run nor a test result object", payload)


def _result(obj: dict[str, Any], payload: Any) -> Normalized:
    status = pick(obj, "status")
    key = status_key(status)
    problems = []
    if key not in RESULT_OUTCOMES:
        problems.append(f"data.test.status: {status!r} is not an Automated Future result status")
    test = {
        "id": pick(obj, "test_result_id"),
        "name": pick(obj, "test_name"),
        "status": status,
        "outcome": RESULT_OUTCOMES.get(key),
        "error_message": pick(obj, "error_message"),
        "duration_ms": pick(obj, "execution_time_ms"),
    }
    run = {
        "id": pick(obj, "test_run_id"),
        "name": pick(obj, "test_run_label"),
        "project": pick(obj, "project_id"),
    }
    data, found = fields.build_data({"test": test, "run": run})
    return _event("result.reported", obj, data, payload, problems + found)


def _run(obj: dict[str, Any], payload: Any) -> Normalized:
    status = pick(obj, "status")
    kind = RUN_TYPES.get(status_key(status))
    if kind is None:
        return unknown(KIND, f"unknown test run status {status!r}", payload)
    counts = _counts(obj)
    outcome = None
    if kind == "run.completed" and counts:
        outcome = "failed" if (counts.get("failed") or 0) > 0 else "passed"
    started, finished = pick(obj, "started_at"), pick(obj, "finished_at")
    run = {
        "id": pick(obj, "test_run_id", "id"),
        "name": pick(obj, "label", "test_run_label"),
        "project": pick(obj, "project_id"),
        "status": status,
        "outcome": outcome,
        "started_at": started,
        "finished_at": finished,
        "duration_ms": _duration(started, finished),
    }
    data, found = fields.build_data({"run": run, "counts": counts})
    return _event(kind, obj, data, payload, found)


def _event(kind: str, obj: dict[str, Any], data: dict[str, Any], payload: Any, problems: list[str]) -> Normalized:
    when = pick(obj, "finished_at") or pick(obj, "started_at") or pick(obj, "created_at")
    try:
        time = fields.coerce("time", when)
    except ValueError as exc:
        time = None
        problems.append(f"time: {exc}")
    return Normalized(
        type=kind,
        platform=KIND,
        platform_event=f"{_object_name(kind)}.{status_key(pick(obj, 'status'))}",
        subject=data.get("run", {}).get("id"),
        time=time,
        data=data,
        raw=payload,
        normalize_error="; ".join(problems) or None,
    )


def _object_name(kind: str) -> str:
    return "test_result" if kind == "result.reported" else "test_run"


def _counts(obj: dict[str, Any]) -> dict[str, Any]:
    source = as_dict(pick(obj, "result_counts", "counts", "results", "summary")) or {
        k: v for k, v in obj.items() if status_key(k).endswith("count")
    }
    counts: dict[str, Any] = {}
    total_given = None
    statuses = 0
    for raw_key, value in source.items():
        key = status_key(raw_key).removesuffix("count")
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if key == "total":
            total_given = value
            continue
        statuses += value
        if key in COUNT_KEYS:
            counts[COUNT_KEYS[key]] = value
    if counts or total_given is not None:
        counts["total"] = total_given if total_given is not None else statuses
    return counts


def _duration(started: Any, finished: Any) -> int | None:
    try:
        a, b = fields.coerce("time", started), fields.coerce("time", finished)
    except ValueError:
        return None
    if a is None or b is None:
        return None
    delta = datetime.fromisoformat(b) - datetime.fromisoformat(a)
    return round(delta.total_seconds() * 1000)


def status_key(value: Any) -> str:
    """``KnownFail`` / ``known_fail`` / ``Known Fail`` -> ``knownfail``."""
    return "".join(ch for ch in str(value).lower() if ch.isalnum())


SPEC = AdapterSpec(kind=KIND, create=AutomatedFutureAdapter, options=MappingOptions)
