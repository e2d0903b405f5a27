"""The adapter registry: one :class:`~receiver.sources.base.AdapterSpec` per source kind.

``ADAPTERS[kind].options`` validates a source's ``normalize:`` block and
``ADAPTERS[kind].create(options_or_None)`` builds the adapter.
"""

from __future__ import annotations

from receiver.sources import automatedfuture, bug0, fume, fusillade, generic, github, nunu
from receiver.sources.base import AdapterSpec

ADAPTERS: dict[str, AdapterSpec] = {
    spec.kind: spec
    for spec in (
        fusillade.SPEC,
        automatedfuture.SPEC,
        nunu.SPEC,
        bug0.SPEC,
        fume.SPEC,
        github.SPEC,
        generic.SPEC,
    )
}

__all__ = ["ADAPTERS"]
