"""The group key of an action for an event: what repeat suppression (and grouping) count by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.rules.model import ActionSpec


def group_key(action: ActionSpec, envelope: Mapping[str, Any]) -> str:
    """``""`` without ``group.by`` (one key per rule action); else the group's own key
    (``GroupSpec.key``: the JSON list of the values at its paths, null when missing)."""
    if action.group is None or not action.group.by:
        return ""
    return action.group.key(envelope)
