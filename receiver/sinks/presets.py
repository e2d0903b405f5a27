"""Platform presets: thin layers over the ``http`` sink with the right auth and base URL.

Each preset takes ``api_key`` (a secret), an optional ``base_url`` override and
``allow_private``; its actions are either a raw ``request:`` (always allowed, same
shape as the ``http`` sink's) or one shortcut that builds the documented call.
Path segments coming from templates are percent-encoded so they cannot change the path.
The shortcut that starts a run on the platform names where the answer says which run it
started (``Preset.run_key``): the run is then tracked with the triggering event's commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from receiver.secret import Secret
from receiver.sinks.base import ActionModel, DeliveryOptions, SendContext, SinkSpec, url_credentials
from receiver.sinks.client import HttpClient
from receiver.sinks.http import REQUEST_ESCAPES, HttpSink, RequestSpec
from receiver.sinks.outbound import Outgoing
from receiver.sinks.outbound import segment as seg
from receiver.sinks.track import StartedRun, answer_key


class PresetConfig(DeliveryOptions):
    api_key: str = Field(min_length=1)
    base_url: str | None = None
    allow_private: bool = False
    # The source whose webhooks report the runs this sink starts (checked at load, sinks/track.py).
    runs_source: str | None = None

    @field_validator("base_url")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        if url_credentials(value):
            raise ValueError("must not hold credentials (user:password@): the preset authenticates with api_key")
        return value


class FusilladeConfig(PresetConfig):
    # fusillade-api.txt, Rate Limits: "100 req/10s per IP": deliveries and polls share it.
    rate_per_second: float | None = Field(default=10.0, gt=0)
    burst: int = Field(default=10, ge=1)


class RequiredBaseConfig(PresetConfig):
    base_url: str  # nunu documents no public base URL


class OneOf(ActionModel):
    """An action with exactly one of its fields set (``request`` or one shortcut)."""

    template_escapes = REQUEST_ESCAPES

    @model_validator(mode="after")
    def _exactly_one(self) -> OneOf:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            names = ", ".join(type(self).model_fields)
            raise ValueError(f"give exactly one of: {names}")
        return self


def _git(ctx: SendContext) -> Mapping[str, Any]:
    data = ctx.event.get("data")
    git = data.get("git") if isinstance(data, Mapping) else None
    return git if isinstance(git, Mapping) else {}


# --- Fusillade -------------------------------------------------------------------------


class Compare(ActionModel):
    test_id: str
    baseline_id: str


class RunTemplate(ActionModel):
    template_id: str
    overrides: dict[str, Any] = Field(default_factory=dict)


class GetTest(ActionModel):
    test_id: str


class FusilladeAction(OneOf):
    request: RequestSpec | None = None
    compare: Compare | None = None
    run_template: RunTemplate | None = None
    get_test: GetTest | None = None


def _fusillade(a: FusilladeAction, ctx: SendContext) -> RequestSpec:
    if a.compare is not None:
        path = f"/api/v1/tests/{seg(a.compare.test_id)}/compare/{seg(a.compare.baseline_id)}"
        return RequestSpec(method="GET", path=path)
    if a.run_template is not None:
        path = f"/api/v1/templates/{seg(a.run_template.template_id)}/run"
        return RequestSpec(method="POST", path=path, json=a.run_template.overrides)
    assert a.get_test is not None
    return RequestSpec(method="GET", path=f"/api/v1/tests/{seg(a.get_test.test_id)}")


# --- Bug0 ------------------------------------------------------------------------------


class RunTests(ActionModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    projectId: str  # Bug0's field names, sent as given
    url: str | None = None
    gitCommitSha: str | None = None
    gitBranch: str | None = None
    prNumber: str | None = None
    owner: str | None = None
    repo: str | None = None


class Bug0Action(OneOf):
    request: RequestSpec | None = None
    run_tests: RunTests | None = None


def _bug0(a: Bug0Action, ctx: SendContext) -> RequestSpec:
    assert a.run_tests is not None
    body = a.run_tests.model_dump(exclude_none=True)
    git = _git(ctx)
    # Fill the commit from the event when the rule did not say; Bug0 uses it for statuses.
    if "gitCommitSha" not in body and git.get("sha"):
        body["gitCommitSha"] = str(git["sha"])
    if git.get("repo") and "/" in str(git["repo"]) and "owner" not in body and "repo" not in body:
        body["owner"], body["repo"] = str(git["repo"]).split("/", 1)
    return RequestSpec(method="POST", path="/api/run-tests", json=body)


# --- Fume, nunu ------------------------------------------------------------------------


class FumeAction(OneOf):
    request: RequestSpec | None = None
    trigger: dict[str, Any] | None = None


def _fume(a: FumeAction, ctx: SendContext) -> RequestSpec:
    return RequestSpec(method="POST", path="/test/trigger", json=a.trigger)


class NunuAction(OneOf):
    request: RequestSpec | None = None
    start_run: dict[str, Any] | None = None


def _nunu(a: NunuAction, ctx: SendContext) -> RequestSpec:
    return RequestSpec(method="POST", path="/runs", json=a.start_run)


# --- Automated Future ------------------------------------------------------------------


class CreateRun(ActionModel):
    project_id: str
    label: str | None = None
    metadata: dict[str, Any] | None = None


class ReportResult(ActionModel):
    project_id: str
    test_name: str
    status: str
    test_run_id: str | None = None
    started_at: str | None = None
    execution_time_ms: int | None = None
    metadata: dict[str, Any] | None = None


class CompleteRun(ActionModel):
    test_run_id: str


class AutomatedFutureAction(OneOf):
    request: RequestSpec | None = None
    create_run: CreateRun | None = None
    report_result: ReportResult | None = None
    complete_run: CompleteRun | None = None


def _automatedfuture(a: AutomatedFutureAction, ctx: SendContext) -> RequestSpec:
    if a.create_run is not None:
        return RequestSpec(method="POST", path="/run/", json=a.create_run.model_dump(exclude_none=True))
    if a.report_result is not None:
        return RequestSpec(method="POST", path="/result/", json=a.report_result.model_dump(exclude_none=True))
    assert a.complete_run is not None
    return RequestSpec(method="POST", path=f"/run/{seg(a.complete_run.test_run_id)}", json={"status": "Completed"})


# --- the table -------------------------------------------------------------------------

# Where each platform's start-run answer names the run, as its API documents it
# (../shared/platform-docs/):
RUN_KEYS = {
    # fusillade-api.txt, Templates: POST /api/v1/templates/:id/run answers "same as POST
    # /api/v1/tests": {"test_id": "...", "status": "provisioning"}; webhooks carry data.test_id.
    "fusillade": ("run_template", "test_id"),
    # bug0-api.txt, Response: {"success": true, "message": …, "executionId": "exec_abc123def456"}.
    "bug0": ("run_tests", "executionId"),
    # fume-api.txt, Example response: {"runId": "run_42ab3d", "status": "queued"}.
    "fume": ("trigger", "runId"),
    # nunu-api.txt documents POST /runs ("Start a test or test plan") and names runs {runId}
    # (GET /runs/{runId}) but shows no answer: runId, as in its run objects.
    "nunu": ("start_run", "runId"),
    # automatedfuture-api.txt, POST /run/: Response 200 {"test_run_id": "run_xyz789"}.
    "automatedfuture": ("create_run", "test_run_id"),
}


@dataclass(frozen=True)
class Preset:
    kind: str
    base_url: str | None
    auth_header: str
    auth_format: str  # "{key}" or "Bearer {key}"
    action: type[ActionModel]
    shortcut: Callable[[Any, SendContext], RequestSpec]
    config: type[PresetConfig] = PresetConfig
    # (the shortcut that starts a run, the key of the answer that names it): see RUN_KEYS.
    run_key: tuple[str, str] | None = None


PRESETS: dict[str, Preset] = {
    p.kind: p
    for p in (
        Preset(
            "fusillade",
            "https://api.fusillade.io",
            "Authorization",
            "Bearer {key}",
            FusilladeAction,
            _fusillade,
            FusilladeConfig,
            run_key=RUN_KEYS["fusillade"],
        ),
        Preset("bug0", "https://app.bug0.com", "x-api-key", "{key}", Bug0Action, _bug0, run_key=RUN_KEYS["bug0"]),
        Preset(
            "fume", "https://api.fumedev.com", "Authorization", "{key}", FumeAction, _fume, run_key=RUN_KEYS["fume"]
        ),
        Preset("nunu", None, "X-Api-Key", "{key}", NunuAction, _nunu, RequiredBaseConfig, RUN_KEYS["nunu"]),
        Preset(
            "automatedfuture",
            "https://api.automatedfuture.co/v1/test",
            "Authorization",
            "{key}",
            AutomatedFutureAction,
            _automatedfuture,
            run_key=RUN_KEYS["automatedfuture"],
        ),
    )
}


class PresetSink(HttpSink):
    """An ``http`` sink whose actions may also be the preset's shortcuts."""

    def __init__(self, preset: Preset, sink_id: str, client: HttpClient, config: PresetConfig) -> None:
        key = Secret(preset.auth_format.format(key=config.api_key))
        base_url = config.base_url or preset.base_url
        super().__init__(
            sink_id,
            client,
            base_url=base_url,
            headers={preset.auth_header: key},
            allow_private=config.allow_private,
            timeout=config.timeout_seconds,
            secrets=[Secret(config.api_key), *config.secrets()],
        )
        self.kind = preset.kind
        self.preset = preset
        self.action_model = preset.action
        # Runs this sink starts are keyed by the source that reports them (track.py).
        self.runs_source = config.runs_source or config.runs_sources().get(preset.kind) or sink_id

    def outgoing(self, action: Any, ctx: SendContext) -> Outgoing:
        spec = action.request if action.request is not None else self.preset.shortcut(action, ctx)
        return self.from_spec(spec)

    def started_run(self, action: Any, body: Any, event: Mapping[str, Any]) -> StartedRun | None:
        """The run the preset's start-run shortcut started, named by its answer (RUN_KEYS);
        None for other actions. Raises TrackFailed when the answer names no run."""
        if self.preset.run_key is None:
            return None
        shortcut, key = self.preset.run_key
        if getattr(action, shortcut) is None:
            return None
        return StartedRun(self.runs_source, self.kind, self.no_secret(answer_key(body, key)))


def _creator(preset: Preset) -> Callable[[str, Any, HttpClient], PresetSink]:
    def create(sink_id: str, config: PresetConfig, client: HttpClient) -> PresetSink:
        return PresetSink(preset, sink_id, client, config)

    return create


SPECS = [SinkSpec(kind=p.kind, config=p.config, action=p.action, create=_creator(p)) for p in PRESETS.values()]
