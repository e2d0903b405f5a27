"""The group key of an action for an event: what repeat suppression (and grouping) count by.

With ``group: {by: [paths]}`` on the action it is the rendered values of those paths; without,
it is the empty key, so each rule action has one key of its own. When the action's ``group``
computes its own key (``group.key(event)``), that one definition is used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver import jsonutil
from receiver.rules.model import ActionSpec


def group_key(action: ActionSpec, envelope: Mapping[str, Any]) -> str:
    """``""`` without ``group.by``; else the JSON list of the values at its paths (null when missing)."""
    group = getattr(action, "group", None)
    by = getattr(group, "by", None) if group is not None else None
    if not by:
        return ""
    own = getattr(group, "key", None)
    if callable(own):
        return str(own(envelope))
    values = []
    for path in by:
        found = jsonutil.dig(envelope, str(path).split("."))
        values.append(None if found is jsonutil.MISSING else found)
    return jsonutil.dumps(values)
