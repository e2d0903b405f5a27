"""A run's commit from the deployment it tested (pure; the store reads and writes the rows).

A source whose runs start elsewhere (a Fusillade schedule) declares
``git: {repo: owner/name, branch: main, sha: latest_deployment, environment: production}``.
Its run events then get ``repo``/``branch`` where they name none, and a run that knows no commit
gets the sha of the newest successful deployment of that repository (in that environment) at or
before the run started (``data.git.inferred_from: deployment``). Deployments come from
``deployment.success`` events (GitHub ``deployment_status``, or any source that maps that type
with ``data.git.repo`` and ``data.git.sha``), recorded when their event is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from receiver.runs.model import epoch

if TYPE_CHECKING:  # the config imports this module: it stays free of the store
    from receiver.store.runs import RunRow
    from receiver.store.runs_history import Deployment, DeploymentWant

LATEST_DEPLOYMENT = "latest_deployment"
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
DEPLOYED = "deployment.success"  # the event type that records a deployment


class GitOptions(BaseModel):
    """A source's ``git:`` block (strict: unknown keys are config errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    repo: str | None = None
    branch: Annotated[str, Field(min_length=1)] | None = None
    sha: Literal["latest_deployment"] | None = None
    environment: Annotated[str, Field(min_length=1)] | None = None

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, value: str | None) -> str | None:
        if value is not None and not _REPO.fullmatch(value):
            raise ValueError(f"{value!r} is not owner/name (the repository as GitHub names it)")
        return value

    @model_validator(mode="after")
    def _deployment_needs_repo(self) -> GitOptions:
        if self.sha == LATEST_DEPLOYMENT and self.repo is None:
            raise ValueError("sha: latest_deployment needs repo (owner/name): whose deployments to look up")
        if self.environment is not None and self.sha != LATEST_DEPLOYMENT:
            raise ValueError("environment only applies with sha: latest_deployment")
        return self


def deployment_of(envelope: Mapping[str, Any], now: float) -> Deployment | None:
    """The deployment a ``deployment.success`` event reports; None for any other event, or one
    that names no repository or commit."""
    if envelope.get("type") != DEPLOYED:
        return None
    from receiver.store.runs_history import Deployment

    data = _dict(envelope.get("data"))
    git = _dict(data.get("git"))
    repo, sha = git.get("repo"), git.get("sha")
    if not isinstance(repo, str) or not isinstance(sha, str) or not repo or not sha:
        return None
    environment = _dict(data.get("deployment")).get("environment")
    # GitHub names the repository's default branch in every event: the baseline branch by default.
    default_branch = _dict(_dict(envelope.get("raw")).get("repository")).get("default_branch")
    return Deployment(
        event_id=envelope["id"], repo=repo, environment=_text(environment), sha=sha, ref=_text(git.get("branch")),
        default_branch=_text(default_branch), deployed_at=epoch(envelope.get("time")) or now,
    )  # fmt: skip


def want(options: GitOptions | None, run: RunRow) -> DeploymentWant | None:
    """The deployment lookup a run needs: only a run without a commit, on a source that asks."""
    if options is None or options.sha != LATEST_DEPLOYMENT or run.sha is not None or run.repo is None:
        return None
    from receiver.store.runs_history import DeploymentWant

    return DeploymentWant(run.repo, options.environment, start_time(run))


def start_time(run: RunRow) -> float:
    """When the run started: ``started_at``, else ``finished_at`` less its duration, else the time
    of the event that last set its state (a queued run has not started yet: now is the best bound)."""
    started = epoch(run.started_at)
    if started is not None:
        return started
    finished = epoch(run.finished_at)
    if finished is not None:
        return finished - (run.duration_ms or 0) / 1000
    return run.event_time


def _dict(value: Any) -> Mapping[str, Any]:
    """A section or payload object; anything else (a mapping gone wrong, a list body) is empty."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
