"""GitHub webhooks (``X-Hub-Signature-256``), typed by the ``X-GitHub-Event`` header.

``push`` -> ``git.push``; ``pull_request`` -> ``pr.<action>``; ``deployment_status`` ->
``deployment.<state>``; ``check_suite`` / ``workflow_run`` -> ``<event>.<action>``;
``ping`` -> ``ping``. Every event fills ``data.git`` (``repo`` = ``repository.full_name``).
The subject is the thing the event is about: the pushed sha, the PR number, the
deployment / check suite / workflow run id, the hook id for ``ping``.
Other GitHub events are kept as ``github.unknown``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from receiver.events import Normalized
from receiver.sources import fields
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


def _ping(p: dict[str, Any], repo: Any) -> Parsed:
    return "ping", p.get("hook_id"), None, {"git": {"repo": repo}}


HANDLERS: dict[str, Callable[[dict[str, Any], Any], Parsed]] = {
    "push": _push,
    "pull_request": _pull_request,
    "deployment_status": _deployment_status,
    "check_suite": _check_suite,
    "workflow_run": _workflow_run,
    "ping": _ping,
}


class GitHubAdapter(CodeAdapter):
    kind = KIND

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
    options=MappingOptions,
    default_verify={"scheme": "github"},
    delivery_id_header="X-GitHub-Delivery",
)
