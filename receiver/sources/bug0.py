"""Bug0 (AI web QA) executions: a preset of the generic mapping.

Bug0 documents ``POST /api/run-tests`` (answering ``executionId``) and says results
go to "configured integrations", but no webhook payload. Assumed shape: an execution
object, bare or wrapped in ``execution`` / ``data``, echoing the trigger fields
(``executionId``, ``projectId``, ``gitCommitSha``, ``gitBranch``, ``prNumber``,
``owner``, ``repo``; snake_case accepted too) plus ``status``, an optional
``result``, ``reportUrl`` and ``summary: {total, passed, failed, skipped}``.
``url`` is the *tested* (preview) URL in Bug0's API, so it is not the run's URL.
``git.repo`` is ``owner/repo`` (or ``repo`` when it already has the owner).
Any key can be overridden in the source's ``normalize:`` block.
"""

from __future__ import annotations

from receiver.sources.base import AdapterSpec
from receiver.sources.mapping import MappingAdapter, MappingOptions, merge, preset
from receiver.sources.vocab import OUTCOME_WORDS, STATUS_TYPES, TIME_PATHS, count_paths

KIND = "bug0"

REPO = (
    "{% if obj.repo is defined and obj.repo and '/' in obj.repo|string %}{{ obj.repo }}"
    "{% elif obj.owner is defined and obj.repo is defined and obj.owner and obj.repo %}"
    "{{ obj.owner }}/{{ obj.repo }}{% endif %}"
)


PRESET = preset(
    {
        "unwrap": ["execution", "data.execution", "data"],
        "type": {"path": ["status", "state"], "map": STATUS_TYPES},
        "platform_event": ["event", "eventType", "event_type", "status", "state"],
        "subject": ["executionId", "execution_id", "id"],
        "time": TIME_PATHS,
        "data.run.id": ["executionId", "execution_id", "id"],
        "data.run.name": ["name", "label"],
        "data.run.project": ["projectId", "project_id"],
        "data.run.status": ["status", "state"],
        "data.run.outcome": {
            "path": ["result", "outcome", "conclusion", "status"],
            "map": OUTCOME_WORDS,
            "default": None,
        },
        "data.run.url": ["reportUrl", "report_url", "executionUrl", "execution_url", "dashboardUrl"],
        "data.run.started_at": ["startedAt", "started_at"],
        "data.run.finished_at": ["finishedAt", "finished_at", "completedAt", "completed_at"],
        "data.run.duration_ms": ["durationMs", "duration_ms"],
        "data.counts.total": [*count_paths("total"), "totalTests", "total_tests"],
        "data.counts.passed": count_paths("passed"),
        "data.counts.failed": count_paths("failed"),
        "data.counts.skipped": count_paths("skipped"),
        "data.git.repo": REPO,
        "data.git.sha": ["gitCommitSha", "git_commit_sha", "commitSha", "commit_sha"],
        "data.git.branch": ["gitBranch", "git_branch", "branch"],
        "data.git.pr": ["prNumber", "pr_number", "pullRequest", "pull_request"],
    }
)


def create(options: MappingOptions | None) -> MappingAdapter:
    return MappingAdapter(KIND, merge(PRESET, options))


SPEC = AdapterSpec(kind=KIND, create=create, options=MappingOptions)
