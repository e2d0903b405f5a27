"""nunu.ai (AI game QA) runs and bugs: a preset of the generic mapping.

nunu.ai documents its REST API (``/runs``, ``/runs/{runId}``, ``/runs/{runId}/bugs``)
but no webhook payload. Assumed shape: a run object like ``GET /runs/{runId}``
returns it, bare or wrapped in ``run`` / ``data``, with ``runId`` (or ``run_id`` /
``id``), ``status``, ``name``, ``projectId``, ``url`` and ``startedAt``/``finishedAt``
(either spelling) and optional counts (``summary: {total, passed, failed, skipped}``, as
Bug0's); a payload carrying a ``bug`` object or a ``bugId`` is a
``bug.reported`` for the run in ``runId``. Status words map through the shared
vocabulary (``failed`` = the run found failures -> ``run.completed``/``failed``;
``error`` = the run broke -> ``run.failed``/``errored``). Any key can be overridden
in the source's ``normalize:`` block. The nunu poller (``receiver/polling/nunu.py``)
reads ``GET /runs/{runId}`` answers through this same mapping.
"""

from __future__ import annotations

from receiver.sources.base import AdapterSpec
from receiver.sources.mapping import MappingAdapter, MappingOptions, merge, preset
from receiver.sources.vocab import OUTCOME_WORDS, STATUS_TYPES, TIME_PATHS, count_paths

KIND = "nunu"

IS_BUG = "payload.bug is defined or payload.bugId is defined or payload.bug_id is defined"

PRESET = preset(
    {
        "unwrap": ["run", "data.run", "data"],
        "type": {
            "template": f"{{{{ 'bug' if ({IS_BUG}) else obj.status }}}}",
            "map": {"bug": "bug.reported", **STATUS_TYPES},
        },
        "platform_event": {
            "template": f"{{{{ 'bug' if ({IS_BUG}) else (obj.status if obj.status is defined else '') }}}}"
        },
        "subject": ["runId", "run_id", "bug.runId", "bug.run_id", "id"],
        # A bug report's own creation time comes first.
        "time": ["timestamp", "bug.createdAt", "bug.created_at", *TIME_PATHS[1:]],
        "data.run.id": ["runId", "run_id", "bug.runId", "bug.run_id", "id"],
        "data.run.name": ["name", "testName", "test_name", "testPlanName", "test_plan_name"],
        "data.run.project": ["projectId", "project_id"],
        "data.run.status": ["status", "state"],
        "data.run.outcome": {
            "path": ["result", "outcome", "conclusion", "status"],
            "map": OUTCOME_WORDS,
            "default": None,
        },
        "data.run.url": ["url", "runUrl", "run_url", "dashboardUrl", "dashboard_url"],
        "data.run.started_at": ["startedAt", "started_at"],
        "data.run.finished_at": ["finishedAt", "finished_at", "completedAt", "completed_at"],
        "data.run.duration_ms": ["durationMs", "duration_ms"],
        "data.counts.total": count_paths("total"),
        "data.counts.passed": count_paths("passed"),
        "data.counts.failed": count_paths("failed"),
        "data.counts.skipped": count_paths("skipped"),
        "data.bug.id": ["bug.id", "bug.bugId", "bug.bug_id", "bugId", "bug_id"],
        "data.bug.title": ["bug.title", "bugTitle", "bug_title", "title"],
        "data.bug.severity": ["bug.severity", "severity"],
        "data.bug.url": ["bug.url", "bugUrl", "bug_url"],
    }
)


def create(options: MappingOptions | None) -> MappingAdapter:
    return MappingAdapter(KIND, merge(PRESET, options))


def bug_payload(run_id: str, bug: object) -> dict[str, object]:
    """A bug of ``GET /runs/{runId}/bugs`` as the payload this preset reads as ``bug.reported``."""
    return {"runId": run_id, "bug": bug}


SPEC = AdapterSpec(kind=KIND, create=create, options=MappingOptions)
