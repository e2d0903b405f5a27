"""Baselines and regressions (pure): medians, missing metrics, no baseline, each reason."""

from __future__ import annotations

from typing import Any

import pytest

from receiver import jsonutil
from receiver.runs import baseline
from receiver.runs.baseline import BaselineOptions, headline, judge, median, pass_rate, regression
from receiver.store.runs_history import Sample
from tests.runs.helpers import DONE, envelope, step


def stored(metrics: dict[str, Any] | None, counts: dict[str, Any] | None, duration_ms: float | None = None) -> Sample:
    """A baseline run as the store reads it: its JSON columns' text (run_args encodes them so)."""
    encoded = [None if v is None else jsonutil.dumps(v) for v in (metrics, counts)]
    return encoded[0], encoded[1], duration_ms


def load(p95: float | None, error_rate: float | None = None, duration_ms: float | None = None) -> Sample:
    metrics = {k: v for k, v in (("p95_latency_ms", p95), ("error_rate", error_rate)) if v is not None}
    return stored(metrics or None, None, duration_ms)


def suite(passed: int, total: int | None, duration_ms: float | None = None) -> Sample:
    return stored(None, {"total": total, "passed": passed, "failed": None, "skipped": None}, duration_ms)


NONE = {"p95_latency_ms": None, "error_rate": None, "duration_ms": None, "pass_rate": None}


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        pytest.param([], None, id="no-runs-no-baseline"),
        pytest.param([load(100, 0.01, 60_000)], {"metrics": {**NONE, "p95_latency_ms": 100, "error_rate": 0.01,
                                                             "duration_ms": 60_000}, "n": 1}, id="one-run"),
        pytest.param([load(100), load(300), load(200)], {"metrics": {**NONE, "p95_latency_ms": 200}, "n": 3},
                     id="odd-median"),
        pytest.param([load(100), load(300), load(200), load(400)], {"metrics": {**NONE, "p95_latency_ms": 250},
                                                                    "n": 4}, id="even-median"),
        # A run without a metric does not count for it (but is one of the n runs).
        pytest.param([load(100, 0.01), load(None, 0.03), load(300)],
                     {"metrics": {**NONE, "p95_latency_ms": 200, "error_rate": 0.02}, "n": 3}, id="missing-metrics"),
        pytest.param([suite(9, 10, 1000), suite(10, 10, 3000), suite(8, 10, 2000)],
                     {"metrics": {**NONE, "duration_ms": 2000, "pass_rate": 0.9}, "n": 3}, id="functional-suite"),
        pytest.param([stored({"p95_latency_ms": "fast", "error_rate": True}, None)], {"metrics": NONE, "n": 1},
                     id="non-numbers-ignored"),
        pytest.param([stored({"p95_latency_ms": 10**400, "error_rate": float("nan")}, {"passed": 10**400})],
                     {"metrics": NONE, "n": 1}, id="beyond-a-double-ignored"),
    ],
)  # fmt: skip
def test_median(samples: list[Sample], expected: dict[str, Any] | None) -> None:
    assert median(samples) == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"total": 10, "passed": 8}, 0.8),
        ({"passed": 3, "failed": 1}, 0.75),  # no total: the parts add up
        ({"passed": 2, "failed": 1, "skipped": 1, "known_failure": None}, 0.5),
        ({"total": 0, "passed": 0}, None),
        ({"failed": 2}, None),
        ({}, None),
        (None, None),
    ],
)
def test_pass_rate(counts: dict[str, Any] | None, expected: float | None) -> None:
    assert pass_rate(counts) == expected


BASE = {"p95_latency_ms": 100.0, "error_rate": 0.01, "duration_ms": 60_000.0, "pass_rate": 1.0}
DEFAULT = BaselineOptions()


@pytest.mark.parametrize(
    ("current", "baseline", "options", "reasons"),
    [
        pytest.param({"p95_latency_ms": 110.0, "error_rate": 0.015}, BASE, DEFAULT, [], id="at-the-limits"),
        pytest.param({"p95_latency_ms": 114.8, "error_rate": 0.01}, BASE, DEFAULT,
                     ["p95 latency increased 14.8%"], id="p95"),
        pytest.param({"p95_latency_ms": 100.0, "error_rate": 0.0151}, BASE, DEFAULT,
                     ["error rate increased 0.51 percentage points"], id="error-rate"),
        pytest.param({"p95_latency_ms": 200.0, "error_rate": 0.05}, BASE, DEFAULT,
                     ["p95 latency increased 100.0%", "error rate increased 4.00 percentage points"], id="both"),
        pytest.param({"p95_latency_ms": 50.0, "error_rate": 0.0}, BASE, DEFAULT, [], id="better"),
        # A load test runs as long as configured: its duration is not compared.
        pytest.param({"p95_latency_ms": 100.0, "duration_ms": 600_000.0}, BASE, DEFAULT, [], id="load-duration"),
        pytest.param({"duration_ms": 72_001.0}, BASE, DEFAULT, ["duration increased 20.0%"], id="suite-duration"),
        pytest.param({"duration_ms": 72_000.0}, BASE, DEFAULT, [], id="suite-duration-at-limit"),
        pytest.param({"p95_latency_ms": 104.0}, BASE, BaselineOptions(p95_increase_pct=3),
                     ["p95 latency increased 4.0%"], id="own-p95-threshold"),
        pytest.param({"error_rate": 0.012}, BASE, BaselineOptions(error_rate_increase_pp=0.1),
                     ["error rate increased 0.20 percentage points"], id="own-error-threshold"),
        pytest.param({"duration_ms": 66_000.0}, BASE, BaselineOptions(duration_increase_pct=5),
                     ["duration increased 10.0%"], id="own-duration-threshold"),
        pytest.param({"p95_latency_ms": 500.0, "error_rate": 0.5}, NONE, DEFAULT, [], id="baseline-lacks-metrics"),
        pytest.param({"p95_latency_ms": 5.0}, {**BASE, "p95_latency_ms": 0.0}, DEFAULT, [], id="from-zero-p95"),
    ],
)  # fmt: skip
def test_regression(current: dict[str, float], baseline: dict[str, float | None], options: BaselineOptions,
                    reasons: list[str]) -> None:  # fmt: skip
    got = regression({**NONE, **current}, baseline, options)
    assert got == {"regression": bool(reasons), "reasons": reasons}


def test_headline_reads_metrics_counts_and_duration() -> None:
    assert headline({"p95_latency_ms": 7, "rps": 9}, {"total": 4, "passed": 3}, 1500) == {
        "p95_latency_ms": 7.0, "error_rate": None, "duration_ms": 1500.0, "pass_rate": 0.75,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "samples", "expected"),
    [
        pytest.param("failed", [], {"baseline": None, "regression": None}, id="no-baseline"),
        pytest.param("failed", [load(500)], {"baseline": {"metrics": {**NONE, "p95_latency_ms": 500}, "n": 1},
                                             "regression": {"regression": True,
                                                            "reasons": ["p95 latency increased 40.0%"]}},
                     id="regressed"),
        pytest.param("passed", [load(700)], {"baseline": {"metrics": {**NONE, "p95_latency_ms": 700}, "n": 1},
                                             "regression": {"regression": False, "reasons": []}}, id="steady"),
        # A cancelled run has a baseline to show but nothing to judge.
        pytest.param("cancelled", [load(500)], {"baseline": {"metrics": {**NONE, "p95_latency_ms": 500}, "n": 1},
                                                "regression": None}, id="no-verdict"),
    ],
)  # fmt: skip
def test_judge(outcome: str, samples: list[Sample], expected: dict[str, Any]) -> None:
    event_id, type, values = DONE  # p95 700 ms
    run = step(envelope(event_id, type, **{**values, "outcome": outcome})).fresh
    assert judge(run, samples, DEFAULT) == expected


@pytest.mark.parametrize(
    ("spec", "options", "wants_baseline"),
    [
        pytest.param(DONE, DEFAULT, True, id="final"),
        pytest.param(("e2", "run.started", {"status": "running"}), DEFAULT, False, id="non-final-reads-nothing"),
        pytest.param(DONE, BaselineOptions(runs=0), False, id="disabled"),
        pytest.param((DONE[0], DONE[1], {**DONE[2], "name": None}), DEFAULT, False, id="no-test"),
    ],
)
def test_only_final_events_of_a_test_read_a_baseline(
    spec: tuple[str, str, dict[str, Any]], options: BaselineOptions, wants_baseline: bool
) -> None:
    found = step(envelope(spec[0], spec[1], **spec[2]))
    found.baseline = options
    wants = found.wants(found.merge(None))
    assert (wants is not None and wants.baseline is not None) == wants_baseline


def test_a_stored_run_is_decoded_once_across_baselines() -> None:
    """The next final event of a test reads mostly the same baseline runs: their stored JSON is
    parsed once (the memo is keyed by the stored values, so a changed run is read afresh)."""
    runs = [load(100 + i, 0.01, 60_000) for i in range(10)]
    baseline._stored.cache_clear()
    first = median(runs)
    assert baseline._stored.cache_info().misses == 10
    later = median([load(99, 0.01, 60_000), *runs[:9]])  # one new run, the oldest gone
    assert baseline._stored.cache_info().misses == 11
    assert first is not None and later is not None
    assert (first["metrics"]["p95_latency_ms"], later["metrics"]["p95_latency_ms"]) == (104.5, 103.5)
    changed = median([load(500, 0.01, 60_000), *runs[1:]])  # the same run with other metrics
    assert changed is not None and changed["metrics"]["p95_latency_ms"] == 105.5
