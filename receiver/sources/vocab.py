"""Status vocabularies shared by the presets: common words for a run's state and verdict.

Platforms without a documented webhook use these through their preset's ``map``; a
source whose platform says something else overrides the rule in its ``normalize:`` block.
"""

from __future__ import annotations

# Where the presets look for when something happened, most specific first.
TIME_PATHS = [
    "timestamp",
    "updatedAt",
    "updated_at",
    "finishedAt",
    "finished_at",
    "startedAt",
    "started_at",
    "createdAt",
    "created_at",
]

STATUS_TYPES = {
    "scheduled": "run.scheduled",
    "queued": "run.queued",
    "pending": "run.queued",
    "waiting": "run.queued",
    "ready": "run.ready",
    "starting": "run.started",
    "started": "run.started",
    "running": "run.started",
    "in_progress": "run.started",
    "paused": "run.paused",
    "resumed": "run.resumed",
    "completed": "run.completed",
    "complete": "run.completed",
    "finished": "run.completed",
    "done": "run.completed",
    "passed": "run.completed",
    "success": "run.completed",
    "succeeded": "run.completed",
    "failed": "run.completed",
    "failure": "run.completed",
    "error": "run.failed",
    "errored": "run.failed",
    "crashed": "run.failed",
    "timeout": "run.failed",
    "timed_out": "run.failed",
    "cancelled": "run.cancelled",
    "canceled": "run.cancelled",
    "aborted": "run.cancelled",
    "stopped": "run.stopped",
}
# The normalized types that end a run: a poller stops at them, the Fusillade adapter sets
# the finish time on them.
FINAL_TYPES = frozenset({"run.completed", "run.failed", "run.cancelled", "run.stopped"})


def count_paths(name: str) -> list[str]:
    """Where a run object may carry its ``name`` count (``passed``, ``failed`` …), most usual first."""
    return [f"summary.{name}", f"results.{name}", f"counts.{name}", f"{name}Count", f"{name}_count"]


OUTCOME_WORDS = {
    "passed": "passed",
    "pass": "passed",
    "success": "passed",
    "succeeded": "passed",
    "failed": "failed",
    "fail": "failed",
    "failure": "failed",
    "error": "errored",
    "errored": "errored",
    "crashed": "errored",
    "timeout": "errored",
    "timed_out": "errored",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "aborted": "cancelled",
    "stopped": "cancelled",
    "skipped": "skipped",
}
