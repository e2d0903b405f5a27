"""The run vocabulary: final events, outcome classes, transitions, and the enrichment keys.

One definition of each fact; the store, the API and docs/events.md use these.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

# Which outcomes say the test passed or failed. ``known_failure`` is an expected failure
# (not red); ``cancelled`` and ``skipped`` say nothing about the test, so such a run has
# no transition and is not anybody's ``previous``.
PASSED = frozenset({"passed", "known_failure"})
FAILED = frozenset({"failed", "errored"})

TRANSITIONS = ("first", "broken", "fixed", "still_failing", "still_passing")
_TRANSITION = {
    ("passed", "failed"): "broken",
    ("failed", "passed"): "fixed",
    ("failed", "failed"): "still_failing",
    ("passed", "passed"): "still_passing",
}

INFERRED_FROM = ("event", "run", "trigger", "deployment")  # where data.git came from
GIT_KEYS = ("repo", "sha", "branch", "pr")
# Keys run tracking adds to the adapters' sections (published in event.schema.json).
ADDED_KEYS = {"run": ("key", "previous", "transition"), "git": ("inferred_from",)}
ADDED_SECTIONS = ("baseline", "regression")  # data sections final run events get (runs/baseline.py)


def verdict(outcome: str | None) -> str | None:
    """``passed``, ``failed`` or None (no verdict: unfinished, cancelled, skipped)."""
    if outcome in PASSED:
        return "passed"
    if outcome in FAILED:
        return "failed"
    return None


def transition(previous_verdict: str | None, current_verdict: str | None) -> str | None:
    """How a finished run compares with the previous finished run of the same test."""
    if current_verdict is None:
        return None
    if previous_verdict is None:
        return "first"
    return _TRANSITION[previous_verdict, current_verdict]


def is_final(run: dict[str, Any]) -> bool:
    """A final event says how the run ended: it has an outcome or a finish time."""
    return run.get("outcome") is not None or run.get("finished_at") is not None


def epoch(rfc3339: str | None) -> float | None:
    """Seconds since the epoch of an envelope time (already RFC 3339 UTC), None when absent."""
    if not rfc3339:
        return None
    try:
        return datetime.fromisoformat(rfc3339).timestamp()
    except ValueError:
        return None


def series_key(source_id: str, name: str | None, project: str | None) -> str | None:
    """Runs with the same key are runs of the same test. A platform that names no test
    (Bug0 executions) still has its project; a run with neither belongs to no series."""
    if name is None and project is None:
        return None
    return f"{source_id}\x1f{name or ''}\x1f{project or ''}"


def finite_number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (bool, text, NaN, infinities, integers
    beyond a double's range): the one reading of a run's metrics and counts."""
    kind = type(value)
    if kind is not float and kind is not int:  # bool is not a number here; None is the common miss
        return None
    try:
        number = float(value)
    except OverflowError:  # JSON allows an integer beyond a double's range
        return None
    return number if math.isfinite(number) else None
