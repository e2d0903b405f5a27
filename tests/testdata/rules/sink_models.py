"""Action parameter models of the sink kinds the example rules use (stand-ins for tests).

The real models live with the sinks (``receiver/sinks/``); these have the same parameter
names so rule files validated here validate there too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AppriseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    body: str
    tag: str | None = None


class GithubStatusParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["pending", "success", "failure", "error"]
    context: str
    description: str | None = None
    target_url: str | None = None
    repo: str | None = None
    sha: str | None = None


class HttpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str | None = None
    url: str | None = None
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    json_: Any = Field(None, alias="json")


class HttpParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: HttpRequest


class FusilladeParams(BaseModel):
    """The fusillade preset's actions the examples use: a raw request or a template run."""

    model_config = ConfigDict(extra="forbid")
    request: HttpRequest | None = None
    run_template: dict[str, Any] | None = None


class Bug0Params(BaseModel):
    """The bug0 preset's actions the examples use: a raw request or run_tests."""

    model_config = ConfigDict(extra="forbid")
    request: HttpRequest | None = None
    run_tests: dict[str, Any] | None = None


class NunuParams(BaseModel):
    """The nunu preset's actions the examples use: start_run (its body as written)."""

    model_config = ConfigDict(extra="forbid")
    start_run: dict[str, Any]


SINKS: dict[str, type[BaseModel]] = {
    "slack-perf": AppriseParams,
    "email-qa": AppriseParams,
    "github": GithubStatusParams,
    "fusillade-api": FusilladeParams,
    "bug0-api": Bug0Params,
    "nunu-api": NunuParams,
}
