"""Bug0's results as they reach Hookyard: GitHub commit statuses and check runs from its integration.

bug0-api.txt documents only ``POST /api/run-tests``; results go to "configured integrations",
for GitHub "commit status" (and PR comments) on the ``gitCommitSha`` the run was started with.
So a ``github`` source's ``status`` / ``check_run`` event whose context, check name or app names
Bug0 is turned into the Bug0 run event it reports (``platform: bug0``), named ``<repo>@<sha>``:
run tracking links it to the run Hookyard started for that commit (``receiver/runs/track.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from receiver.events import Normalized
from receiver.sources import fields

PLATFORM = "bug0"
EVENTS = frozenset({"status", "check_run"})  # the GitHub events Bug0 reports with
# A finished report's outcome, when it is not a plain verdict, as the run's event type.
_FINAL_TYPES = {"cancelled": "run.cancelled", "errored": "run.failed"}


def names(n: Normalized) -> list[str]:
    """What may name Bug0 in a GitHub event: the status context or check name, the check's app."""
    run = n.data.get("run") or {}
    found = [run.get("name")]
    if n.platform_event == "check_run":
        app = _dig(n.raw, "check_run", "app")
        found += [_dig(app, "name"), _dig(app, "slug")]
    return [str(name) for name in found if name]


def run_id(repo: str, sha: str) -> str:
    """The id of a Bug0 run known only by its commit (Bug0's own executionId is not in its statuses)."""
    return f"{repo}@{sha}"


def report(n: Normalized, context: str) -> Normalized | None:
    """``n`` as the Bug0 run event it reports, when one of its :func:`names` contains ``context``
    (already case-folded); None for any other event, or one without the repository and commit
    that link it to its run."""
    if n.type.endswith(".unknown") or not any(context in name.casefold() for name in names(n)):
        return None
    run = n.data.get("run") or {}
    git = n.data.get("git") or {}
    repo, sha = git.get("repo"), git.get("sha")
    if not repo or not sha:
        return None
    state = run.get("status")
    done = state != "pending" if n.platform_event == "status" else state == "completed"
    outcome = run.get("outcome") if done else None
    section: dict[str, Any] = {**run, "id": run_id(repo, sha), "outcome": outcome}
    if done:
        kind = _FINAL_TYPES.get(outcome or "", "run.completed")
        section.update(status="completed", finished_at=run.get("finished_at") or n.time)
    else:
        kind = "run.started"
        section.update(status="running", started_at=run.get("started_at") or n.time)
    built, problems = fields.section("run", section)
    error = "; ".join(filter(None, [n.normalize_error, *problems])) or None
    data = {**n.data, "run": built}
    return dataclasses.replace(n, type=kind, platform=PLATFORM, subject=section["id"], data=data, normalize_error=error)


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj
