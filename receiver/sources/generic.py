"""The ``generic`` kind: no built-in knowledge, only the source's ``normalize:`` mapping.

See :mod:`receiver.sources.mapping` and ``docs/events.md`` for the syntax. Without a
``type`` rule every event is kept as ``generic.unknown`` with a reason.
"""

from __future__ import annotations

from receiver.sources.base import AdapterSpec
from receiver.sources.mapping import MappingAdapter, MappingOptions

KIND = "generic"


def create(options: MappingOptions | None) -> MappingAdapter:
    return MappingAdapter(KIND, options or MappingOptions())


SPEC = AdapterSpec(kind=KIND, create=create, options=MappingOptions)
