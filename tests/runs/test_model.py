"""The run vocabulary: outcome classes and transitions."""

from __future__ import annotations

import pytest

from receiver.runs.model import epoch, is_final, series_key, transition, verdict


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [("passed", "passed"), ("known_failure", "passed"), ("failed", "failed"), ("errored", "failed"),
     ("cancelled", None), ("skipped", None), (None, None)],
)  # fmt: skip
def test_verdict(outcome: str | None, expected: str | None) -> None:
    assert verdict(outcome) == expected


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (None, "passed", "first"),
        (None, "failed", "first"),
        ("passed", "failed", "broken"),
        ("failed", "passed", "fixed"),
        ("failed", "failed", "still_failing"),
        ("passed", "passed", "still_passing"),
        ("passed", None, None),  # a cancelled run has no transition
        (None, None, None),
    ],
)
def test_transition(previous: str | None, current: str | None, expected: str | None) -> None:
    assert transition(previous, current) == expected


@pytest.mark.parametrize(
    ("run", "final"),
    [({"outcome": "passed"}, True), ({"outcome": None, "finished_at": "2026-02-06T12:00:00Z"}, True),
     ({"outcome": None, "finished_at": None}, False), ({}, False)],
)  # fmt: skip
def test_is_final(run: dict[str, str | None], final: bool) -> None:
    assert is_final(run) is final


def test_epoch_and_series_key() -> None:
    assert epoch("2026-02-06T12:00:00Z") == 1770379200.0
    assert epoch("not a time") is None and epoch(None) is None
    assert (
        series_key("fus", "Checkout", None) == series_key("fus", "Checkout", None) != series_key("fus", "Checkout", "p")
    )
    assert series_key("fus", None, "p") == "fus\x1f\x1fp"  # a project without test names is a series
    assert series_key("fus", None, None) is None
