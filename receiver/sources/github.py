"""GitHub webhooks (``X-Hub-Signature-256``), typed by the ``X-GitHub-Event`` header.

``push`` -> ``git.push``; ``pull_request`` -> ``pr.<action>``; ``deployment_status`` ->
``deployment.<state>``; ``check_suite`` / ``workflow_run`` -> ``<event>.<action>``;
``ping`` -> ``ping``. Every event fills ``data.git`` (``repo`` = ``repository.full_name``).
The subject is the thing the event is about: the pushed sha, the PR number, the
deployment / check suite / workflow run id, the hook id for ``ping``.
``status`` -> ``status.<state>`` (``data.run``: context, state, verdict, target URL; no run id,
so a commit status is no run of its own); ``check_run`` -> ``check_run.<action>``.
Other GitHub events are kept as ``github.unknown``.

Bug0 reports its runs only through its GitHub integration (bug0-api.txt: "commit status",
"Results sent to integrations"), under no documented name. A ``status`` whose context, or a
``check_run`` whose name or app, contains ``bug0_context`` (``normalize: {bug0_context: …}``,
default ``bug0``, case-insensitive; ``null`` turns it off) is that report: a Bug0 run event
(``platform: bug0``; pending/queued/in progress -> ``run.started`` with status ``running``,
success/failure/error or a completed check -> ``run.completed`` / ``run.failed`` /
``run.cancelled`` with status ``completed`` and the outcome) with ``data.run.id``
``<repo>@<sha>``. Run tracking links it to the Bug0 run Hookyard started for that commit
(``receiver/runs/track.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from receiver.events import Normalized
from receiver.sources import bug0_github, fields
from receiver.sources.base import AdapterSpec, unknown
from receiver.sources.mapping import CodeAdapter, MappingOptions
from receiver.sources.payload import as_dict
from receiver.verify.base import RawRequest

KIND = "github"

CONCLUSIONS = {
    "success": "passed",
    "failure": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "timed_out": "errored",
    "startup_failure": "errored",
    # neutral, action_required and stale are no verdict: outcome stays null.
}

# bug0-api.txt names no status context or app: any that contains this (case-insensitive) is Bug0's.
BUG0_CONTEXT = "bug0"

Parsed = tuple[str, Any, str | None, dict[str, dict[str, Any]]]  # type, subject, time, sections


def _d(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _first_pr(prs: Any) -> Any:
    return _d(prs[0], "number") if isinstance(prs, list) and prs else None


def _push(p: dict[str, Any], repo: Any) -> Parsed:
    ref = p.get("ref")
    branch = ref.removeprefix("refs/heads/") if isinstance(ref, str) and ref.startswith("refs/heads/") else None
    git = {"repo": repo, "sha": p.get("after"), "branch": branch}
    return "git.push", p.get("after"), _d(p, "head_commit", "timestamp"), {"git": git}


def _pull_request(p: dict[str, Any], repo: Any) -> Parsed:
    pr = as_dict(p.get("pull_request")) or {}
    number = p.get("number", pr.get("number"))
    git = {"repo": repo, "sha": _d(pr, "head", "sha"), "branch": _d(pr, "head", "ref"), "pr": number}
    return f"pr.{p.get('action')}", number, pr.get("updated_at"), {"git": git}


def _deployment_status(p: dict[str, Any], repo: Any) -> Parsed:
    status = as_dict(p.get("deployment_status")) or {}
    deployment = as_dict(p.get("deployment")) or {}
    state = status.get("state")
    section = {
        "id": deployment.get("id"),
        "environment": status.get("environment") or deployment.get("environment"),
        "state": state,
        "url": status.get("environment_url") or status.get("target_url"),
    }
    git = {"repo": repo, "sha": deployment.get("sha"), "branch": deployment.get("ref")}
    time = status.get("updated_at") or status.get("created_at")
    return f"deployment.{state}", deployment.get("id"), time, {"deployment": section, "git": git}


def _check_suite(p: dict[str, Any], repo: Any) -> Parsed:
    suite = as_dict(p.get("check_suite")) or {}
    run = {
        "id": suite.get("id"),
        "name": _d(suite, "app", "name"),
        "status": suite.get("status"),
        "outcome": CONCLUSIONS.get(suite.get("conclusion") or ""),
    }
    git = {
        "repo": repo,
        "sha": suite.get("head_sha"),
        "branch": suite.get("head_branch"),
        "pr": _first_pr(suite.get("pull_requests")),
    }
    return (
        f"check_suite.{p.get('action')}",
        suite.get("id"),
        suite.get("updated_at"),
        {"run": run, "git": git},
    )


def _workflow_run(p: dict[str, Any], repo: Any) -> Parsed:
    wf = as_dict(p.get("workflow_run")) or {}
    done = wf.get("status") == "completed"
    run = {
        "id": wf.get("id"),
        "name": wf.get("name"),
        "status": wf.get("status"),
        "outcome": CONCLUSIONS.get(wf.get("conclusion") or ""),
        "url": wf.get("html_url"),
        "started_at": wf.get("run_started_at"),
        "finished_at": wf.get("updated_at") if done else None,
    }
    git = {
        "repo": repo,
        "sha": wf.get("head_sha"),
        "branch": wf.get("head_branch"),
        "pr": _first_pr(wf.get("pull_requests")),
    }
    return f"workflow_run.{p.get('action')}", wf.get("id"), wf.get("updated_at"), {"run": run, "git": git}


# A commit status's state as a verdict (pending has none).
STATUS_OUTCOMES = {"success": "passed", "failure": "failed", "error": "errored"}


def _status(p: dict[str, Any], repo: Any) -> Parsed:
    state = p.get("state")
    run = {
        "name": p.get("context"),
        "status": state,
        "outcome": STATUS_OUTCOMES.get(state or ""),
        "url": p.get("target_url"),
    }
    git = {"repo": repo, "sha": p.get("sha")}
    return f"status.{state}", p.get("id"), p.get("updated_at"), {"run": run, "git": git}


def _check_run(p: dict[str, Any], repo: Any) -> Parsed:
    check = as_dict(p.get("check_run")) or {}
    run = {
        "id": check.get("id"),
        "name": check.get("name"),
        "status": check.get("status"),
        "outcome": CONCLUSIONS.get(check.get("conclusion") or ""),
        "url": check.get("html_url") or check.get("details_url"),
        "started_at": check.get("started_at"),
        "finished_at": check.get("completed_at"),
    }
    git = {
        "repo": repo,
        "sha": check.get("head_sha"),
        "branch": _d(check, "check_suite", "head_branch"),
        "pr": _first_pr(check.get("pull_requests")),
    }
    time = check.get("completed_at") or check.get("started_at")
    return f"check_run.{p.get('action')}", check.get("id"), time, {"run": run, "git": git}


def _ping(p: dict[str, Any], repo: Any) -> Parsed:
    return "ping", p.get("hook_id"), None, {"git": {"repo": repo}}


HANDLERS: dict[str, Callable[[dict[str, Any], Any], Parsed]] = {
    "push": _push,
    "pull_request": _pull_request,
    "deployment_status": _deployment_status,
    "check_suite": _check_suite,
    "workflow_run": _workflow_run,
    "status": _status,
    "check_run": _check_run,
    "ping": _ping,
}


class GitHubOptions(MappingOptions):
    """A github source's ``normalize:`` block: the field mapping, and how Bug0's reports are known."""

    bug0_context: str | None = Field(default=BUG0_CONTEXT, min_length=1)


class GitHubAdapter(CodeAdapter):
    kind = KIND

    def __init__(self, options: GitHubOptions | None) -> None:
        given = options is not None and bool(options.model_fields_set - {"bug0_context"})
        super().__init__(options if given else None)  # bug0_context alone leaves the mapping empty
        context = options.bug0_context if options is not None else BUG0_CONTEXT
        self.bug0_context = context.casefold() if context is not None else None

    def normalize(self, req: RawRequest) -> Normalized:
        n = super().normalize(req)
        if self.bug0_context is not None and n.platform_event in bug0_github.EVENTS:
            return bug0_github.report(n, self.bug0_context) or n
        return n

    def unparsable(self, failed: Normalized, req: RawRequest) -> Normalized:
        failed.platform_event = req.header("X-GitHub-Event")
        return failed

    def from_payload(self, payload: Any, req: RawRequest) -> Normalized:
        event = req.header("X-GitHub-Event")
        if not event:
            return unknown(KIND, "no X-GitHub-Event header", payload)
        handler = HANDLERS.get(event)
        if handler is None:
            return unknown(KIND, f"unsupported GitHub event {event!r}", payload, platform_event=event)
        if not isinstance(payload, dict):
            return unknown(KIND, f"expected a JSON object, got {type(payload).__name__}", payload, event)
        kind, subject, time, sections = handler(payload, _d(payload, "repository", "full_name"))
        if kind.endswith(".None"):
            return unknown(KIND, f"{event} payload has no action/state", payload, platform_event=event)
        data, problems = fields.build_data(sections)
        try:
            subject_text = fields.coerce("str", subject)
            time_text = fields.coerce("time", time)
        except ValueError as exc:
            subject_text, time_text = None, None
            problems.append(f"subject/time: {exc}")
        return Normalized(
            type=kind,
            platform=KIND,
            platform_event=event,
            subject=subject_text,
            time=time_text,
            data=data,
            raw=payload,
            normalize_error="; ".join(problems) or None,
        )


SPEC = AdapterSpec(
    kind=KIND,
    create=GitHubAdapter,
    options=GitHubOptions,
    default_verify={"scheme": "github"},
    delivery_id_header="X-GitHub-Delivery",
)
