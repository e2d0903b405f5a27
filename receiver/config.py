"""Parse, validate and compile the daemon's YAML config once, at load.

Every problem is reported as ``file:line: key.path: problem`` (all of them, not just
the first). The result is a :class:`Config` of ready-to-run parts: each source has its
adapter and verifier built; runtime code never re-validates.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from receiver import lazy_secrets, yamlfile
from receiver.errors import ConfigError, Problem
from receiver.runs.baseline import DEFAULTS as BASELINE_DEFAULTS
from receiver.runs.baseline import BaselineOptions
from receiver.runs.deployment import GitOptions
from receiver.runs.watch import PollingModel, SourcePoll, poll_sink_problems
from receiver.secret import Secret
from receiver.sources.base import Adapter
from receiver.store.base import DEFAULT_BUSY_TIMEOUT, DEFAULT_CONNECT_TIMEOUT
from receiver.verify.base import Verifier

log = logging.getLogger("hookyard.config")

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
DEFAULT_TOLERANCE = 300
MIN_WEB_TOKEN = 32  # characters: guessing one stays hopeless even without the rate limit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerModel(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    max_body_bytes: Annotated[int, Field(gt=0)] = 1_048_576
    # Hostile clients (receiver/daemon/httplimits.py): head size and count, time to send head and body.
    max_header_bytes: Annotated[int, Field(ge=1024, le=1_048_576)] = 16_384
    max_headers: Annotated[int, Field(ge=10, le=1000)] = 100
    header_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    keep_alive_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    max_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    access_log: bool = False
    # Log lines as text (``key=value`` fields) or one JSON object per line.
    log_format: Literal["text", "json"] = "text"
    watch_files: bool = True
    # 1: one process receives and delivers. N > 1: one process sends every delivery and
    # N - 1 receive webhooks (see receiver/daemon/supervisor.py).
    processes: Annotated[int, Field(ge=1, le=64)] = 1


class RetentionModel(_Strict):
    """``storage.retention``: how long history is kept; older rows are pruned in the background
    (``receiver/pruner.py``) in batches of ``batch_size``, every ``interval_seconds``."""

    enabled: bool = True
    # Events with their raw bodies, deliveries and attempts (never a delivery not yet final).
    events_days: Annotated[float, Field(gt=0, le=36_500)] = 30.0
    runs_days: Annotated[float, Field(gt=0, le=36_500)] = 365.0  # run summaries (/ui/runs, previous, baselines)
    # Per batch: a SQLite batch runs on the event loop (the writer), ~0.1-0.5 ms per event (bench/retention_bench.py).
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    interval_seconds: Annotated[float, Field(ge=1, le=86_400)] = 60.0


class StorageModel(_Strict):
    url: str = "sqlite:///data/hookyard.db"
    # A write waits this long for a lock another process holds, then answers 503 store_busy.
    busy_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = DEFAULT_BUSY_TIMEOUT
    # At start, how long to keep trying to reach PostgreSQL before giving up.
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = DEFAULT_CONNECT_TIMEOUT
    retention: RetentionModel = RetentionModel()


class DeliveryModel(_Strict):
    workers: Annotated[int, Field(ge=0, le=256)] = 8
    lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 0.5
    max_chain_depth: Annotated[int, Field(ge=0, le=50)] = 5


class WebModel(_Strict):
    """The delivery-log page and JSON API (``/ui``, ``/api``)."""

    enabled: bool = True
    # Bearer token for /ui and /api. Without one they answer loopback clients only.
    token: str | None = None
    # With a token: /metrics and the details of /readyz want it too (false: open to anyone).
    metrics_need_token: bool = True

    @field_validator("token")
    @classmethod
    def _long_token(cls, value: str | None) -> str | None:
        # Never echo the value: it is the credential. Empty means "no token" (``${VAR:-}``).
        if value and len(value) < MIN_WEB_TOKEN:
            raise ValueError(f"must be at least {MIN_WEB_TOKEN} characters (try: openssl rand -hex 32)")
        return value or None


class SourceModel(_Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    kind: str
    secrets: list[str] = []
    secret_file: str | list[str] | None = None
    verify: dict[str, Any] | None = None
    insecure: bool = False
    normalize: dict[str, Any] | None = None
    delivery_id_header: str | None = None
    dedupe_window_seconds: Annotated[float, Field(ge=0)] | None = None
    git: GitOptions | None = None  # run events' repo/branch, and their commit from deployments
    baseline: BaselineOptions = BASELINE_DEFAULTS  # baselines and regressions of final run events
    poll: SourcePoll | None = None  # follow this source's runs by polling (receiver/polling)


class SinkModel(BaseModel):
    """Only ``id`` and ``kind`` here; the rest is validated by the sink kind's model."""

    model_config = ConfigDict(extra="allow")
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    kind: str


class ConfigModel(_Strict):
    server: ServerModel = ServerModel()
    storage: StorageModel = StorageModel()
    rules: list[str] = ["rules/"]
    sources: list[SourceModel] = []
    sinks: list[SinkModel] = []
    delivery: DeliveryModel = DeliveryModel()
    web: WebModel = WebModel()
    polling: PollingModel = PollingModel()


@dataclass(frozen=True)
class Source:
    """A compiled inbound endpoint: ``POST /hooks/{id}``."""

    id: str
    kind: str
    adapter: Adapter
    verifier: Verifier
    scheme: str
    delivery_id_header: str | None
    dedupe_window: float
    insecure: bool
    # Headers never stored besides those ``secret.is_credential_header`` names: a token scheme's
    # header, whatever it is called (it IS the secret). Lower-case.
    private_headers: frozenset[str]
    secrets: tuple[Secret, ...] = field(repr=False, default=())
    verify_options: Any = field(repr=False, default=None)
    git: GitOptions | None = None
    baseline: BaselineOptions = BASELINE_DEFAULTS
    poll: SourcePoll | None = None


@dataclass(frozen=True)
class Sink:
    """A configured destination, validated; built into a live sink at startup."""

    id: str
    kind: str
    options: Any


@dataclass
class Config:
    path: Path
    server: ServerModel
    storage_url: str
    rule_paths: list[Path]
    sources: dict[str, Source]
    sinks: dict[str, Sink]
    delivery: DeliveryModel
    web_enabled: bool = True
    web_token: Secret | None = field(default=None, repr=False)
    metrics_need_token: bool = True
    storage: StorageModel = field(default_factory=StorageModel)  # its timeouts; the url is storage_url
    polling: PollingModel = field(default_factory=PollingModel)

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load_config(path: str | Path, env: Mapping[str, str] | None = None, *, secrets: bool = True) -> Config:
    """Load and compile a config file; raises ConfigError with every located problem.

    ``secrets=False`` (commands that verify and send nothing) defers unset secret variables
    to where they are used (``receiver.lazy_secrets``)."""
    cfg_path = Path(path)
    if not secrets:
        env = lazy_secrets.deferring_env(cfg_path, os.environ if env is None else env)
    doc = yamlfile.load(cfg_path, expand_env=True, env=env)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the config must be a mapping")])
    try:
        model = ConfigModel.model_validate(doc.data)
    except ValidationError as err:
        raise ConfigError(yamlfile.problems_from_pydantic(doc, err)) from None
    return _compile(cfg_path, doc, model)


def _compile(cfg_path: Path, doc: yamlfile.Located, model: ConfigModel) -> Config:
    problems: list[Problem] = lazy_secrets.misplaced(doc)
    base = cfg_path.parent
    sources: dict[str, Source] = {}
    for i, src in enumerate(model.sources):
        if src.id in sources:
            problems.append(doc.problem(("sources", i, "id"), f"duplicate source id {src.id!r}"))
            continue
        compiled = _compile_source(doc, base, i, src, problems)
        if compiled is not None:
            sources[src.id] = compiled
    sinks: dict[str, Sink] = {}
    for i, snk in enumerate(model.sinks):
        if snk.id in sinks:
            problems.append(doc.problem(("sinks", i, "id"), f"duplicate sink id {snk.id!r}"))
            continue
        compiled_sink = _compile_sink(doc, i, snk, problems)
        if compiled_sink is not None:
            sinks[snk.id] = compiled_sink
            _check_timeout(doc, i, compiled_sink, model.delivery, problems)
    problems.extend(_link_runs_sources(doc, model, sinks))
    problems.extend(poll_sink_problems(doc, [src.poll for src in model.sources], {i: s.kind for i, s in sinks.items()}))
    storage_url = _resolve_storage(doc, base, model.storage.url, problems)
    for i, rule_path in enumerate(model.rules if "rules" in doc.data else []):
        if not (base / rule_path).exists():
            problems.append(doc.problem(("rules", i), "no such file or directory"))
    if problems:
        raise ConfigError(problems)
    return Config(
        path=cfg_path,
        server=model.server,
        storage_url=storage_url,
        rule_paths=[(base / p) for p in model.rules],
        sources=sources,
        sinks=sinks,
        delivery=model.delivery,
        web_enabled=model.web.enabled,
        web_token=Secret(model.web.token) if model.web.token else None,
        metrics_need_token=model.web.metrics_need_token,
        storage=model.storage,
        polling=model.polling,
    )


def _resolve_storage(doc: yamlfile.Located, base: Path, url: str, problems: list[Problem]) -> str:
    if url.startswith("sqlite:///"):
        raw = url[len("sqlite:///") :]
        if not raw or raw == ":memory:":
            problems.append(doc.problem(("storage", "url"), "sqlite needs a file path"))
            return url
        p = Path(raw)
        return "sqlite:///" + str(p if p.is_absolute() else (base / p))
    if re.match(r"^postgres(ql)?://", url):
        return url
    problems.append(doc.problem(("storage", "url"), "must start with sqlite:/// or postgresql://"))
    return url


def _read_secrets(doc: yamlfile.Located, base: Path, i: int, src: SourceModel, problems: list[Problem]) -> list[Secret]:
    out = []
    for j, value in enumerate(src.secrets):
        if not value.strip():
            problems.append(doc.problem(("sources", i, "secrets", j), "secret is empty"))
        else:
            out.append(Secret(value.strip()))
    files = [src.secret_file] if isinstance(src.secret_file, str) else (src.secret_file or [])
    for j, name in enumerate(files):
        key: tuple[str | int, ...] = ("sources", i, "secret_file")
        if isinstance(src.secret_file, list):
            key = (*key, j)
        p = Path(name) if Path(name).is_absolute() else base / name
        try:
            value = p.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(doc.problem(key, f"cannot read secret file {str(p)!r}: {exc.strerror or exc}"))
            continue
        if not value:
            problems.append(doc.problem(key, f"secret file {str(p)!r} is empty"))
        else:
            out.append(Secret(value))
    return out


def _compile_source(
    doc: yamlfile.Located, base: Path, i: int, src: SourceModel, problems: list[Problem]
) -> Source | None:
    from receiver.sources import ADAPTERS
    from receiver.verify import SCHEMES

    spec = ADAPTERS.get(src.kind)
    if spec is None:
        known = ", ".join(sorted(ADAPTERS))
        problems.append(doc.problem(("sources", i, "kind"), f"unknown kind {src.kind!r} (known: {known})"))
        return None
    n_before = len(problems)
    try:
        options = spec.options.model_validate(src.normalize or {})
        adapter = spec.create(options if src.normalize is not None else None)
    except ValidationError as err:
        problems.extend(yamlfile.problems_from_pydantic(doc, err, ("sources", i, "normalize")))
        adapter = None
    except ValueError as exc:
        problems.append(doc.problem(("sources", i, "normalize"), str(exc)))
        adapter = None

    verify = dict(src.verify) if src.verify is not None else (dict(spec.default_verify or {}) or None)
    vpath: tuple[str | int, ...] = ("sources", i, "verify")
    if verify is None:
        problems.append(doc.problem(vpath, f"required: kind {src.kind!r} has no default verification scheme"))
        return None
    scheme_name = verify.pop("scheme", None)
    scheme = SCHEMES.get(scheme_name) if isinstance(scheme_name, str) else None
    if scheme is None:
        known = ", ".join(sorted(SCHEMES))
        problems.append(doc.problem((*vpath, "scheme"), f"unknown scheme {scheme_name!r} (known: {known})"))
        return None
    if scheme_name == "none" and not src.insecure:
        problems.append(doc.problem((*vpath, "scheme"), "scheme none needs insecure: true on the source"))
    if src.insecure and scheme_name != "none":
        problems.append(doc.problem(("sources", i, "insecure"), "insecure: true is only for scheme none"))
    secrets = _read_secrets(doc, base, i, src, problems)
    if scheme_name != "none" and not secrets and len(problems) == n_before:
        problems.append(doc.problem(("sources", i, "secrets"), "at least one secret is required"))
    try:
        vopts = scheme.options.model_validate(verify)
    except ValidationError as err:
        problems.extend(yamlfile.problems_from_pydantic(doc, err, vpath))
        return None
    if len(problems) > n_before or adapter is None:
        return None
    deferred = lazy_secrets.pending(doc, i, src.secrets)
    try:
        verifier = lazy_secrets.Unresolved(scheme_name, deferred) if deferred else scheme.build(vopts, secrets)
    except ValueError as exc:
        problems.append(doc.problem(("sources", i, "secrets"), str(exc)))
        return None
    tolerance = float(getattr(vopts, "tolerance_seconds", DEFAULT_TOLERANCE))
    private = {str(vopts.header).lower()} if scheme_name == "token" else set()  # type: ignore[attr-defined]
    return Source(
        id=src.id,
        kind=src.kind,
        adapter=adapter,
        verifier=verifier,
        scheme=scheme_name,
        delivery_id_header=(src.delivery_id_header or spec.delivery_id_header),
        dedupe_window=src.dedupe_window_seconds if src.dedupe_window_seconds is not None else tolerance,
        insecure=src.insecure,
        private_headers=frozenset(private),
        secrets=tuple(secrets),
        verify_options=vopts,
        git=src.git,
        baseline=src.baseline,
        poll=src.poll,
    )


def _check_timeout(doc: yamlfile.Located, i: int, sink: Sink, delivery: DeliveryModel, problems: list[Problem]) -> None:
    # A send that outlasts its lease could be claimed again while in flight (the dispatcher
    # renews leases while sending, but a timeout this long means the lease setting is wrong).
    if sink.options is None:  # loaded without secrets (read-only commands): nothing will be sent
        return
    timeout = sink.options.timeout_seconds
    if timeout >= delivery.lease_seconds:
        problems.append(
            doc.problem(
                ("sinks", i, "timeout_seconds"),
                f"{timeout:g} s must be shorter than delivery.lease_seconds ({delivery.lease_seconds:g} s)",
            )
        )


def _link_runs_sources(doc: yamlfile.Located, model: ConfigModel, sinks: dict[str, Sink]) -> list[Problem]:
    from receiver.sinks.track import link_runs_sources  # where a run a sink starts is keyed

    return link_runs_sources(doc, model.sinks, sinks, model.sources)


def _compile_sink(doc: yamlfile.Located, i: int, snk: SinkModel, problems: list[Problem]) -> Sink | None:
    from receiver.sinks import SINKS
    from receiver.sinks.base import sink_secrets

    spec = SINKS.get(snk.kind)
    if spec is None:
        known = ", ".join(sorted(SINKS))
        problems.append(doc.problem(("sinks", i, "kind"), f"unknown kind {snk.kind!r} (known: {known})"))
        return None
    if lazy_secrets.has_unset(snk.model_extra):
        return Sink(id=snk.id, kind=snk.kind, options=None)  # its secrets are not set: id and kind only
    try:
        options = spec.config.model_validate(snk.model_extra or {})
    except ValidationError as err:
        problems.extend(yamlfile.problems_from_pydantic(doc, err, ("sinks", i)))
        return None
    options.mark_secrets(sink_secrets(snk.model_extra, doc.expanded))
    return Sink(id=snk.id, kind=snk.kind, options=options)
