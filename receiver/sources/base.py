"""The adapter interface: one module per source kind, one registry.

An adapter turns a *verified* request into a :class:`~receiver.events.Normalized`
event. It never rejects: anything it cannot understand becomes ``<kind>.unknown``
with a ``normalize_error`` (``safe_normalize`` guarantees this even if the adapter
raises). Each kind registers an :class:`AdapterSpec` in ``receiver.sources.ADAPTERS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
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
    """Normalize, turning any adapter exception into an ``<kind>.unknown`` event; the result is storable."""
    try:
        normalized = adapter.normalize(req)
    except Exception as exc:  # an adapter bug must never lose a verified event
        raw, _ = parse_json(req)
        normalized = unknown(adapter.kind, f"adapter error: {type(exc).__name__}: {exc}", raw)
    return storable(normalized)


def storable(n: Normalized) -> Normalized:
    """``n`` with what neither store can hold repaired and noted in ``normalize_error``.

    A verified body that parses can still carry what strict JSON or UTF-8 text cannot:
    an unpaired surrogate escape (``"\\ud800"``) in the subject, or data nested deeper
    than the encoder goes. Such a field is repaired (U+FFFD) or dropped, and the event is
    stored rather than answered with a 500 that the sender would retry forever.
    """
    texts = (n.type, n.platform_event, n.subject, n.time, n.normalize_error)
    if _encodes(n.data) and not any(t is not None and jsonutil.has_surrogates(t) for t in texts):
        return n  # the hot path: one orjson pass over the (small) data
    notes: list[str] = []
    fields: dict[str, Any] = {}
    for name in ("type", "platform_event", "subject", "time"):
        value = getattr(n, name)
        if value is not None:
            fields[name], more = jsonutil.repair(value, path=name)
            notes += more
    # The stored envelope holds data one level down: it must fit within the encoder's depth there.
    data, data_notes = jsonutil.repair(n.data, max_depth=jsonutil.MAX_DEPTH - 1, path="data")
    notes += data_notes
    previous = jsonutil.repair(n.normalize_error)[0] if n.normalize_error else None
    note = "; ".join(notes)
    error = f"{previous}; {note}" if previous and note else (previous or note or None)
    return dataclasses.replace(n, data=data, normalize_error=error, **fields)


def _encodes(data: dict[str, Any]) -> bool:
    # The envelope adds one level around data: wrap it so the depth check is the stored one.
    # (orjson writes NaN as null, as every stored JSON column does, so it needs no repair.)
    try:
        orjson.dumps([data])
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True
