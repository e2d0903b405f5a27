"""The headline metric, durations, links and the trend data: one definition for every runs view."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from receiver.store.runs import RunRow
from receiver.web.runs_present import commit_url, duration_text, headline, pr_url, trend, web_url

BASE = RunRow(
    key="run_01", source_id="ci", run_id="r", platform="generic", name="Checkout", project=None, status="completed",
    outcome="passed", url=None, started_at=None, finished_at="2026-02-06T12:01:00Z", duration_ms=None, repo=None,
    sha=None, branch=None, pr=None, metrics=None, counts=None, final=True, event_time=0.0, ended_at=1.0,
    verdict="passed", test_key="t", previous_key=None, transition=None, first_event_id="e", last_event_id="e",
    trigger_event_id=None, trigger_delivery_id=None, created_at=0.0, updated_at=0.0,
)  # fmt: skip


def run(key: str = "run_01", **values: Any) -> RunRow:
    return replace(BASE, key=key, **values)


@pytest.mark.parametrize(
    ("metrics", "counts", "expected"),
    [
        ({"p95_latency_ms": 412.4}, None, ("p95 latency", "ms", 412.4, "p95 412 ms")),
        ({"p95_latency_ms": 1234}, {"total": 3, "passed": 3}, ("p95 latency", "ms", 1234.0, "p95 1,234 ms")),
        ({"p95_latency_ms": None}, {"total": 20, "passed": 19, "failed": 1}, ("pass rate", "%", 95.0,
                                                                               "95% passed · 1 failed")),
        (None, {"total": 3, "passed": 2}, ("pass rate", "%", 66.7, "67% passed · 0 failed")),
        ({"p95_latency_ms": True}, None, None),  # a boolean is no number
        ({"p95_latency_ms": 10**400}, {"total": 4, "passed": 4}, ("pass rate", "%", 100.0,  # beyond a double
                                                                    "100% passed · 0 failed")),
        ({"p95_latency_ms": float("nan")}, {"total": 0, "passed": 0}, None),  # nothing ran: no rate
        ({"p95_latency_ms": "fast"}, {"total": "3"}, None),
        (None, None, None),
    ],
)  # fmt: skip
def test_headline(metrics: Any, counts: Any, expected: tuple[Any, ...] | None) -> None:
    h = headline(run(metrics=metrics, counts=counts))
    assert (None if h is None else (h.label, h.unit, h.value, h.text)) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [(None, None), (-1.0, None), (float("inf"), None), (850.4, "850 ms"), (61_000, "1 min 1 s"), (5_000, "5 s"),
     (3_725_000, "1 h 2 min")],
)  # fmt: skip
def test_duration_text(ms: float | None, expected: str | None) -> None:
    assert duration_text(ms) == expected


@pytest.mark.parametrize(
    ("repo", "sha", "pr", "commit", "pull"),
    [
        ("acme/shop", "abc1234", 7, "https://github.com/acme/shop/commit/abc1234", "https://github.com/acme/shop/pull/7"),
        ("acme/shop", "not hex", None, None, None),
        ("acme/../x", "abc1234", 7, None, None),
        ("acme/<b>", "abc1234", 7, None, None),
        (None, "abc1234", 7, None, None),
    ],
)  # fmt: skip
def test_github_links_only_for_github_shapes(repo: Any, sha: Any, pr: Any, commit: Any, pull: Any) -> None:
    assert (commit_url(repo, sha), pr_url(repo, pr)) == (commit, pull)


@pytest.mark.parametrize(
    ("url", "expected"),
    [("https://fusillade.example/runs/1", "https://fusillade.example/runs/1"), ("HTTP://x.example", "HTTP://x.example"),
     ("javascript:alert(1)", None), ("//evil.example", None), ("https://x.example/a b", None), (None, None)],
)  # fmt: skip
def test_web_url_is_http_only(url: str | None, expected: str | None) -> None:
    assert web_url(url) == expected


def test_trend_is_oldest_first_with_the_current_run_flagged_and_other_kinds_left_out() -> None:
    newest_first = [
        run("run_03", metrics={"p95_latency_ms": 300}, outcome="failed"),
        run("run_02", counts={"total": 2, "passed": 2}),  # a suite's pass rate is not a latency
        run("run_01", metrics={"p95_latency_ms": 100}, finished_at=None, started_at="2026-02-06T11:00:00Z"),
    ]
    data = trend(newest_first[0], newest_first)
    assert data == {
        "label": "p95 latency (ms)",
        "points": [
            {"key": "run_01", "label": "2026-02-06 11:00", "value": 100.0, "outcome": "passed", "current": False},
            {"key": "run_03", "label": "2026-02-06 12:01", "value": 300.0, "outcome": "failed", "current": True},
        ],
    }
    assert trend(run("run_09"), [run("run_09")]) is None  # nothing to chart
