"""The ``github_status`` sink: set a commit status (``POST /repos/{o}/{r}/statuses/{sha}``).

Repo and sha default to the event's ``data.git`` section. The description is cut to
GitHub's 140-character limit (longer ones get a 422). ``ordering_key`` lets the
dispatcher keep an older update from overwriting a newer one on the same context.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from receiver.errors import DeliveryError
from receiver.secret import Secret
from receiver.sinks import outbound
from receiver.sinks.base import (
    ActionModel,
    DeliveryOptions,
    Redactor,
    SendContext,
    SendResult,
    SinkSpec,
)
from receiver.sinks.client import HttpClient, Response

DESCRIPTION_LIMIT = 140
# GitHub's own rules: an owner is 1-39 letters, digits and inner hyphens; a repository name
# is up to 100 letters, digits, ``.``, ``_``, ``-`` and never ``.`` or ``..``.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


class GitHubStatusConfig(DeliveryOptions):
    token: str = Field(min_length=1)
    api_url: str = "https://api.github.com"
    context: str = "hookyard"
    allow_private: bool = False

    @field_validator("api_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("api_url must be an absolute http(s) URL")
        if url.userinfo:
            raise ValueError("api_url must not hold credentials (user:password@): the sink authenticates with token")
        return value.rstrip("/")


class GitHubStatusAction(ActionModel):
    state: Literal["pending", "success", "failure", "error"]
    context: str | None = None
    description: str | None = None
    target_url: str | None = None
    repo: str | None = None
    sha: str | None = None


def cut(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """At most ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def valid_repo(repo: str) -> bool:
    """``owner/name`` as GitHub allows them, so the repo cannot reach another API path."""
    owner, _, name = repo.partition("/")
    return bool(_OWNER.match(owner) and _NAME.match(name) and name not in (".", ".."))


def _git(ctx: SendContext) -> Mapping[str, Any]:
    data = ctx.event.get("data")
    git = data.get("git") if isinstance(data, Mapping) else None
    return git if isinstance(git, Mapping) else {}


class GitHubStatusSink:
    kind = "github_status"
    action_model = GitHubStatusAction

    def __init__(
        self,
        sink_id: str,
        client: HttpClient,
        *,
        token: Secret,
        api_url: str,
        context: str,
        allow_private: bool,
        timeout: float,
        secrets: Iterable[str] = (),
    ) -> None:
        self.id = sink_id
        self._client = client
        self._token = token
        self.api_url = api_url
        self.context = context
        self.allow_private = allow_private
        self.timeout = timeout
        self._redactor = Redactor([token, *secrets])

    def target(self, action: GitHubStatusAction, ctx: SendContext) -> tuple[str, str, str]:
        """(repo, sha, context) for this action; a missing or malformed commit is permanent."""
        git = _git(ctx)
        repo = action.repo or git.get("repo")
        sha = action.sha or git.get("sha")
        if not repo or not sha:
            raise DeliveryError(
                "no commit to report on: the action has no repo/sha and the event has no data.git",
                retryable=False,
            )
        repo, sha = str(repo), str(sha)
        if not valid_repo(repo):
            raise DeliveryError(f"repo {repo!r} is not owner/name", retryable=False)
        if not _SHA.match(sha):
            raise DeliveryError(f"sha {sha!r} is not a hex commit id", retryable=False)
        return repo, sha.lower(), action.context or self.context

    def ordering_key(self, action: GitHubStatusAction, ctx: SendContext) -> tuple[str, str, str]:
        repo, sha, context = self.target(action, ctx)
        # GitHub compares contexts case-insensitively.
        return repo.lower(), sha, context.lower()

    async def send(self, action: GitHubStatusAction, ctx: SendContext) -> SendResult:
        repo, sha, context = self.target(action, ctx)
        body: dict[str, Any] = {"state": action.state, "context": context}
        if action.description is not None:
            body["description"] = cut(action.description)
        if action.target_url is not None:
            body["target_url"] = action.target_url
        out = outbound.Outgoing(
            method="POST",
            url=f"{self.api_url}/repos/{repo}/statuses/{sha}",
            headers={
                "Authorization": f"Bearer {self._token.reveal()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            json=body,
        )
        resp = await outbound.call(
            self._client, out, timeout=self.timeout, allow_private=self.allow_private, redactor=self._redactor
        )
        try:
            return outbound.judge(resp, self._redactor, ok=lambda status: status == 201)
        except DeliveryError as exc:
            raise _rate_limited(resp, exc) from None

    def describe(self) -> str:
        return f"github_status → {self._redactor.url(self.api_url)} (context {self.context!r})"

    def __repr__(self) -> str:
        return f"<GitHubStatusSink {self.id!r} {self.describe()}>"


def _rate_limited(resp: Response, exc: DeliveryError) -> DeliveryError:
    """GitHub signals rate limits with 403 too: make those retryable, waiting until the reset."""
    if resp.status_code not in (403, 429):
        return exc
    remaining = resp.headers.get("x-ratelimit-remaining")
    reset = resp.headers.get("x-ratelimit-reset")
    if exc.retry_after is None and remaining == "0" and reset and reset.isdigit():
        exc.retry_after = min(max(int(reset) - time.time(), 1.0), 3600.0)
    if exc.retry_after is not None or remaining == "0" or "rate limit" in resp.text.lower():
        exc.retryable = True
        # Secondary limit without a hint: GitHub asks for at least a minute.
        exc.retry_after = exc.retry_after if exc.retry_after is not None else 60.0
    return exc


def create(sink_id: str, config: GitHubStatusConfig, client: HttpClient) -> GitHubStatusSink:
    return GitHubStatusSink(
        sink_id,
        client,
        token=Secret(config.token),
        api_url=config.api_url,
        context=config.context,
        allow_private=config.allow_private,
        timeout=config.timeout_seconds,
        secrets=config.secrets(),
    )


SPEC = SinkSpec(kind="github_status", config=GitHubStatusConfig, action=GitHubStatusAction, create=create)
