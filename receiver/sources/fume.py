"""Fume (AI test generation) runs: a preset of the generic mapping.

Fume documents ``POST /test/trigger`` (answering ``{"runId", "status": "queued"}``)
and no webhook payload. Assumed shape: a run object, bare or wrapped in ``run`` /
``data``, with ``runId`` (or ``run_id`` / ``id``), ``status``, ``projectId``,
``branch`` and the trigger's ``ci: {commitSha, buildUrl}``; optional ``result``,
``url`` and ``results: {total, passed, failed, skipped}``. ``ci.buildUrl`` is the CI
build that asked for the run (``data.run.ci_url``); when it is a GitHub Actions URL
the repository is read from it. Any key can be overridden in the source's
``normalize:`` block.
"""

from __future__ import annotations

from receiver.sources.base import AdapterSpec
from receiver.sources.mapping import MappingAdapter, MappingOptions, merge, preset
from receiver.sources.vocab import OUTCOME_WORDS, STATUS_TYPES, TIME_PATHS

KIND = "fume"

BUILD_URL = "obj.ci.buildUrl if (obj.ci is defined and obj.ci.buildUrl is defined and obj.ci.buildUrl) else ''"
REPO = (
    f"{{% set u = ({BUILD_URL})|string %}}{{% set parts = u.split('/') %}}"
    "{% if u.startswith('https://github.com/') and parts|length > 4 %}{{ parts[3] }}/{{ parts[4] }}"
    "{% elif obj.repository is defined and obj.repository %}{{ obj.repository }}{% endif %}"
)


def _count(name: str) -> list[str]:
    return [f"results.{name}", f"summary.{name}", f"counts.{name}"]


PRESET = preset(
    {
        "unwrap": ["run", "data.run", "data"],
        "type": {"path": ["status", "state"], "map": STATUS_TYPES},
        "platform_event": ["event", "eventType", "event_type", "status", "state"],
        "subject": ["runId", "run_id", "id"],
        "time": TIME_PATHS,
        "data.run.id": ["runId", "run_id", "id"],
        "data.run.name": ["name", "title"],
        "data.run.project": ["projectId", "project_id"],
        "data.run.status": ["status", "state"],
        "data.run.outcome": {
            "path": ["result", "outcome", "conclusion", "status"],
            "map": OUTCOME_WORDS,
            "default": None,
        },
        "data.run.url": ["url", "runUrl", "run_url", "dashboardUrl"],
        "data.run.ci_url": ["ci.buildUrl", "ci.build_url", "buildUrl", "build_url"],
        "data.run.started_at": ["startedAt", "started_at"],
        "data.run.finished_at": ["finishedAt", "finished_at", "completedAt", "completed_at"],
        "data.counts.total": _count("total"),
        "data.counts.passed": _count("passed"),
        "data.counts.failed": _count("failed"),
        "data.counts.skipped": _count("skipped"),
        "data.git.repo": REPO,
        "data.git.sha": ["ci.commitSha", "ci.commit_sha", "commitSha", "commit_sha"],
        "data.git.branch": ["branch", "ci.branch", "gitBranch", "git_branch"],
    }
)


def create(options: MappingOptions | None) -> MappingAdapter:
    return MappingAdapter(KIND, merge(PRESET, options))


SPEC = AdapterSpec(kind=KIND, create=create, options=MappingOptions)
