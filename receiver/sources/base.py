"""The adapter interface: one module per source kind, one registry.

An adapter turns a *verified* request into a :class:`~receiver.events.Normalized`
event. It never rejects: anything it cannot understand becomes ``<kind>.unknown``
with a ``normalize_error`` (``safe_normalize`` guarantees this even if the adapter
raises). Each kind registers an :class:`AdapterSpec` in ``receiver.sources.ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from receiver import jsonutil
from receiver.events import Normalized
from receiver.verify.base import RawRequest


class Adapter(Protocol):
    kind: str

    def normalize(self, req: RawRequest) -> Normalized: ...


class NoOptions(BaseModel):
    """For kinds that take no ``normalize:`` block."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class AdapterSpec:
    """How a source kind plugs in.

    ``options`` validates the source's ``normalize:`` block (None when absent);
    ``default_verify`` is the ``verify:`` block used when the source has none;
    ``delivery_id_header`` names the header carrying the provider's delivery id.
    """

    kind: str
    create: Callable[[Any], Adapter]
    options: type[BaseModel] = NoOptions
    default_verify: Mapping[str, Any] | None = None
    delivery_id_header: str | None = None


def parse_json(req: RawRequest) -> tuple[Any, str | None]:
    """The JSON body, or (None, reason) when it is not JSON."""
    try:
        return jsonutil.loads(req.body), None
    except UnicodeDecodeError:
        return None, "body is not UTF-8 text"
    except ValueError as exc:
        return None, f"body is not valid JSON: {exc}"


def unknown(kind: str, reason: str, raw: Any = None, platform_event: str | None = None) -> Normalized:
    return Normalized(
        type=f"{kind}.unknown", platform=kind, platform_event=platform_event, raw=raw, normalize_error=reason
    )


def safe_normalize(adapter: Adapter, req: RawRequest) -> Normalized:
    """Normalize, turning any adapter exception into an ``<kind>.unknown`` event."""
    try:
        return adapter.normalize(req)
    except Exception as exc:  # an adapter bug must never lose a verified event
        raw, _ = parse_json(req)
        return unknown(adapter.kind, f"adapter error: {type(exc).__name__}: {exc}", raw)
