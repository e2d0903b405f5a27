"""Runs as the pages show them: the headline metric, commit and PR links, durations, the trend.

The headline is the one number that says how a run went: p95 latency for a load test, the
pass rate (with the failed count) for a suite. One definition for the list, the detail and the chart.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from receiver.runs.model import finite_number
from receiver.runs.present import run_dict
from receiver.sinks.github_status import valid_repo
from receiver.store.runs import RunRow

_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
TREND_RUNS = 50  # the run page charts this many runs of the same test


@dataclass(frozen=True)
class Headline:
    label: str  # what the number is, e.g. "p95 latency"
    unit: str  # "ms" or "%"
    value: float
    text: str  # as a cell shows it: "412 ms", "95% passed · 2 failed"


def headline(run: RunRow) -> Headline | None:
    """p95 latency when the run measured it, else the pass rate of its counts; None: neither."""
    p95 = finite_number((run.metrics or {}).get("p95_latency_ms"))
    if p95 is not None:
        return Headline("p95 latency", "ms", p95, f"p95 {p95:,.0f} ms")
    counts = run.counts or {}
    total, passed = finite_number(counts.get("total")), finite_number(counts.get("passed"))
    if not total or passed is None:
        return None
    failed = finite_number(counts.get("failed")) or 0.0
    rate = 100.0 * passed / total
    return Headline("pass rate", "%", round(rate, 1), f"{rate:.0f}% passed · {failed:.0f} failed")


def duration_text(ms: float | None) -> str | None:
    if ms is None or not math.isfinite(ms) or ms < 0:
        return None
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = round(ms / 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def commit_url(repo: str | None, sha: str | None) -> str | None:
    """A GitHub link only for a repo and sha of GitHub's own shapes (nothing else reaches an href)."""
    if repo and sha and valid_repo(repo) and _SHA.match(sha):
        return f"https://github.com/{repo}/commit/{sha}"
    return None


def pr_url(repo: str | None, pr: int | None) -> str | None:
    if repo and pr is not None and valid_repo(repo):
        return f"https://github.com/{repo}/pull/{pr}"
    return None


def web_url(url: str | None) -> str | None:
    """A platform's link only when it is http(s): a ``javascript:`` URL from an event never becomes an href."""
    if url and re.match(r"^https?://[^\s]+$", url, re.IGNORECASE):
        return url
    return None


def run_view(run: RunRow, delivery_states: dict[str, int] | None = None) -> dict[str, Any]:
    """The run as a page row: the API's shape plus what the page derives from it."""
    top = headline(run)
    return {
        **run_dict(run),
        "headline": top.text if top else None,
        "duration": duration_text(run.duration_ms),
        "commit_url": commit_url(run.repo, run.sha),
        "pr_url": pr_url(run.repo, run.pr),
        "web_url": web_url(run.url),
        "delivery_states": delivery_states or {},
    }


def trend(current: RunRow, runs: list[RunRow]) -> dict[str, Any] | None:
    """The chart's data (oldest first): one point per run with a headline of the current run's kind.

    None when no run has one. The page embeds it as JSON; the script draws it (static/runs-chart.js)."""
    top = headline(current) or next((h for h in map(headline, runs) if h), None)
    if top is None:
        return None
    points = []
    for run in reversed(runs):
        h = headline(run)
        if h is None or h.label != top.label:
            continue
        label = (run.finished_at or run.started_at or run.key)[:16].replace("T", " ")
        points.append({"key": run.key, "label": label, "value": h.value, "outcome": run.outcome,
                       "current": run.key == current.key})  # fmt: skip
    if not points:
        return None
    return {"label": f"{top.label} ({top.unit})", "points": points}
