"""Fusillade load-test webhooks (``X-Fusillade-Signature: t=…,v1=…``).

Payload, as documented: ``{"event", "timestamp", "data": {test_id, name, status,
workers, duration_seconds, p95_latency_ms, error_rate, target_urls,
threshold_results}}``. The six documented events map to run types; the further
status-flow states (``test.cancelled``, ``test.stopped``, ``test.paused``,
``test.resumed``) are accepted too in case Fusillade sends them, since the pause /
resume / stop endpoints exist. Anything else is ``fusillade.unknown``.

``threshold_results`` is not specified beyond ``null``; a list of objects with
name / passed / value / limit (or the obvious variants ``metric``, ``ok``,
``breached``, ``status``, ``actual``, ``threshold``…) or a ``{name: bool|object}``
dict is read. No run URL is built: the docs name no UI address for a test.
"""

from __future__ import annotations

from typing import Any

from receiver.events import Normalized
from receiver.sources import fields
from receiver.sources.base import AdapterSpec, unknown
from receiver.sources.mapping import CodeAdapter, MappingOptions
from receiver.sources.payload import as_dict, pick
from receiver.sources.vocab import FINAL_TYPES
from receiver.verify.base import RawRequest

KIND = "fusillade"

EVENTS = {
    "test.completed": "run.completed",
    "test.failed": "run.failed",
    "test.started": "run.started",
    "test.ready": "run.ready",
    "test.threshold_breached": "threshold.breached",
    "test.scheduled": "run.scheduled",
    # Status-flow states without a documented event (see the module docstring).
    "test.cancelled": "run.cancelled",
    "test.stopped": "run.stopped",
    "test.paused": "run.paused",
    "test.resumed": "run.resumed",
}
TERMINAL = FINAL_TYPES
METRIC_KEYS = frozenset({"p95_latency_ms", "avg_latency_ms", "error_rate", "rps", "total_requests", "workers"})


class FusilladeAdapter(CodeAdapter):
    kind = KIND

    def from_payload(self, payload: Any, req: RawRequest) -> Normalized:
        if not isinstance(payload, dict):
            return unknown(KIND, f"expected a JSON object, got {type(payload).__name__}", payload)
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            return unknown(KIND, "no 'event' name in the payload", payload)
        if event not in EVENTS:
            return unknown(KIND, f"unknown event {event!r}", payload, platform_event=event)
        data = as_dict(payload.get("data"))
        if data is None:
            return unknown(KIND, "'data' is missing or not an object", payload, platform_event=event)
        return test_event(EVENTS[event], event, data, pick(payload, "timestamp", "time"), payload)


def test_event(kind: str, platform_event: str, data: dict[str, Any], when: Any, raw: Any) -> Normalized:
    """A test's ``data`` (a webhook's, or the answer of ``GET /api/v1/tests/:id``, read by the
    poller ``receiver/polling/fusillade.py``) as a ``kind`` event: one mapping for both."""
    thresholds = parse_thresholds(pick(data, "threshold_results", "thresholds"))
    status = data.get("status")
    time_value, time_problem = _time(when)
    run = {
        "id": pick(data, "test_id", "id"),
        "name": data.get("name"),
        "status": status,
        "outcome": _outcome(kind, status, thresholds),
        "url": None,
        # duration_seconds is the configured length: only a finished run has lasted it.
        "duration_ms": _ms(data.get("duration_seconds")) if kind in TERMINAL else None,
        # The event's timestamp is when the run started or ended, for those events.
        "started_at": time_value if kind == "run.started" else None,
        "finished_at": time_value if kind in TERMINAL else None,
    }
    # A "metrics" object, when sent, adds to and overrides the metrics at the top of data.
    nested = data.get("metrics")
    metric_source = {**data, **nested} if isinstance(nested, dict) and nested else data
    metrics = {k: v for k, v in metric_source.items() if k in METRIC_KEYS or k.endswith("_latency_ms")}
    out, problems = fields.build_data({"run": run, "metrics": metrics}, thresholds)
    subject = out.get("run", {}).get("id")
    if subject is None:
        problems.append("data.test_id is missing")
    return Normalized(
        type=kind,
        platform=KIND,
        platform_event=platform_event,
        subject=subject,
        time=time_value,
        data=out,
        raw=raw,
        normalize_error="; ".join(problems + time_problem) or None,
    )


def _outcome(kind: str, status: Any, thresholds: list[dict[str, Any]] | None) -> str | None:
    breached = any(t["passed"] is False for t in thresholds or [])
    if kind == "run.completed":
        return "failed" if breached else "passed"
    if kind == "run.failed":
        return "errored"
    if kind in ("run.cancelled", "run.stopped"):
        return "cancelled"
    if kind == "threshold.breached" and status == "completed":
        return "failed"
    return None


def parse_thresholds(value: Any) -> list[dict[str, Any]] | None:
    """``threshold_results`` as ``[{name, passed, value, limit}]``; None when absent."""
    if isinstance(value, dict):
        value = [
            {"name": name, **item} if isinstance(item, dict) else {"name": name, "passed": item}
            for name, item in value.items()
        ]
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if not isinstance(item, dict):
            continue
        out.append(
            {
                "name": _text(pick(item, "name", "metric", "expression", "threshold_name")),
                "passed": _passed(item),
                "value": _scalar(pick(item, "value", "actual", "observed", "measured")),
                "limit": _scalar(pick(item, "limit", "threshold", "target", "expected")),
            }
        )
    return out or None


def _passed(item: dict[str, Any]) -> bool | None:
    for key, invert in (("passed", False), ("pass", False), ("ok", False), ("success", False)):
        if key in item:
            return _flag(item[key], invert)
    for key in ("breached", "failed"):
        if key in item:
            return _flag(item[key], True)
    status = item.get("status") or item.get("result")
    return _flag(status, False) if status is not None else None


def _flag(value: Any, invert: bool) -> bool | None:
    if value.__class__ is bool:  # the usual case, without the coercion's general path
        return value != invert
    try:
        flag = fields.coerce("bool", value)
    except ValueError:
        text = str(value).lower()
        flag = True if text in ("met", "success", "succeeded") else False if text == "breached" else None
    return None if flag is None else flag != invert


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def _scalar(value: Any) -> float | int | str | None:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, int | float | str) else None


def _ms(seconds: Any) -> Any:
    try:
        number = fields.coerce("num", seconds)
    except ValueError:
        return None
    return None if number is None else number * 1000


def _time(value: Any) -> tuple[str | None, list[str]]:
    try:
        return fields.coerce("time", value), []
    except ValueError as exc:
        return None, [f"timestamp: {exc}"]


SPEC = AdapterSpec(
    kind=KIND,
    create=FusilladeAdapter,
    options=MappingOptions,
    default_verify={"scheme": "stripe", "header": "X-Fusillade-Signature"},
)
