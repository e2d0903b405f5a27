"""Baselines and regressions for platforms without a compare endpoint (pure).

A final event of a test gets ``data.baseline``: the median of each headline metric over the
last N passing runs of the same test on the baseline branch (``median``), and
``data.regression``: this run against that baseline by Fusillade's published rule — p95
latency up more than 10 %, error rate up more than 0.5 percentage points — plus, for
functional suites (runs without load metrics), duration up more than 20 % (``regression``).
The thresholds are per source (``baseline:`` in the config, :class:`BaselineOptions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from receiver import jsonutil
from receiver.runs.model import finite_number

if TYPE_CHECKING:  # the config imports this module: it stays free of the store
    from receiver.store.runs import RunRow
    from receiver.store.runs_history import Sample

# The headline metrics, in the order data.baseline.metrics lists them.
METRICS = ("p95_latency_ms", "error_rate", "duration_ms", "pass_rate")
STORED_CACHE_SIZE = 1024  # distinct stored runs remembered (ten per test judged lately: ~100 tests)
DEFAULT_BRANCH = "main"  # when neither the source nor a deployment event names the default branch


class BaselineOptions(BaseModel):
    """A source's ``baseline:`` block (strict: unknown keys are config errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # The branch whose runs form the baseline; default: the repository's default branch when a
    # GitHub deployment event named it, else main.
    branch: Annotated[str, Field(min_length=1)] | None = None
    runs: Annotated[int, Field(ge=0, le=100)] = 10  # 0: no baselines for this source
    p95_increase_pct: Annotated[float, Field(ge=0)] = 10.0
    error_rate_increase_pp: Annotated[float, Field(ge=0)] = 0.5
    duration_increase_pct: Annotated[float, Field(ge=0)] = 20.0


DEFAULTS = BaselineOptions()  # a source without a ``baseline:`` block


def pass_rate(counts: Mapping[str, Any] | None) -> float | None:
    """Passed tests over all tests (a fraction), from ``data.counts``; None without a total."""
    if not counts:
        return None
    passed, total = finite_number(counts.get("passed")), finite_number(counts.get("total"))
    if total is None:
        parts = [finite_number(counts.get(k)) for k in ("passed", "failed", "skipped", "known_failure")]
        total = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    if passed is None or not total:
        return None
    return passed / total


def headline(metrics: Mapping[str, Any] | None, counts: Mapping[str, Any] | None,
             duration_ms: float | None) -> dict[str, float | None]:  # fmt: skip
    """One run's headline metrics (None where the run did not report one)."""
    return dict(zip(METRICS, _values(metrics, counts, duration_ms), strict=True))


def _values(metrics: Mapping[str, Any] | None, counts: Mapping[str, Any] | None,
            duration_ms: float | None) -> tuple[float | None, ...]:  # fmt: skip
    """The headline metrics in the order of ``METRICS``."""
    p95 = error_rate = None
    if metrics:
        p95, error_rate = finite_number(metrics.get("p95_latency_ms")), finite_number(metrics.get("error_rate"))
    return p95, error_rate, finite_number(duration_ms), pass_rate(counts) if counts else None


def median(samples: Sequence[Sample]) -> dict[str, Any] | None:
    """``{metrics, n}``: per metric the median over the runs that reported it (null when none
    did); ``n`` is how many runs the baseline has. None without any run (no baseline)."""
    if len(samples) < 1:
        return None
    # Every final event does this for N runs, most of which the test's previous final event read too.
    columns = zip(*[_stored(*sample) for sample in samples], strict=True)
    return {"metrics": {name: _middle([v for v in known if v is not None])
                        for name, known in zip(METRICS, columns, strict=True)},
            "n": len(samples)}  # fmt: skip


@lru_cache(maxsize=STORED_CACHE_SIZE)
def _stored(metrics: str | None, counts: str | None, duration_ms: float | None) -> tuple[float | None, ...]:
    """A stored run's headline metrics (in the order of ``METRICS``) from its JSON columns' text and
    its duration. Memoized: a pure function of the stored values, and a test's next final event
    reads most of the same runs again (decoding them was most of a baseline's cost)."""
    return _values(_decoded(metrics), _decoded(counts), duration_ms)


def _decoded(text: str | None) -> Any:
    return jsonutil.loads(text) if text is not None else None


def _middle(values: list[float]) -> float | None:
    """The median, sorting ``values`` in place (``statistics.median`` costs several times more on
    these short lists)."""
    if not values:
        return None
    values.sort()
    half = len(values) // 2
    return values[half] if len(values) % 2 else (values[half - 1] + values[half]) / 2


def regression(current: Mapping[str, float | None], baseline: Mapping[str, float | None],
               options: BaselineOptions) -> dict[str, Any]:  # fmt: skip
    """``{regression, reasons}``: this run's headline metrics against the baseline's. A metric
    either side lacks is not compared; nor is a relative change from a baseline of 0."""
    reasons: list[str] = []
    p95 = _increase_pct(current["p95_latency_ms"], baseline["p95_latency_ms"])
    if p95 is not None and p95 > options.p95_increase_pct:
        reasons.append(f"p95 latency increased {p95:.1f}%")
    now, then = current["error_rate"], baseline["error_rate"]
    points = _rounded((now - then) * 100) if now is not None and then is not None else None
    if points is not None and points > options.error_rate_increase_pp:
        reasons.append(f"error rate increased {points:.2f} percentage points")
    # A load test runs as long as it was configured to; only a functional suite's duration says something.
    functional = current["p95_latency_ms"] is None and current["error_rate"] is None
    duration = _increase_pct(current["duration_ms"], baseline["duration_ms"]) if functional else None
    if duration is not None and duration > options.duration_increase_pct:
        reasons.append(f"duration increased {duration:.1f}%")
    return {"regression": bool(reasons), "reasons": reasons}


def judge(run: RunRow, samples: Sequence[Sample], options: BaselineOptions) -> dict[str, Any]:
    """``data.baseline`` and ``data.regression`` of a final event: null without a baseline;
    ``regression`` is null too for a run without a verdict (cancelled, skipped: nothing to judge)."""
    base = median(samples)
    if base is None:
        return {"baseline": None, "regression": None}
    if run.verdict is None:
        return {"baseline": base, "regression": None}
    current = headline(run.metrics, run.counts, run.duration_ms)
    return {"baseline": base, "regression": regression(current, base["metrics"], options)}


def _increase_pct(now: float | None, then: float | None) -> float | None:
    if now is None or then is None or then <= 0:
        return None
    return _rounded((now - then) / then * 100)


def _rounded(change: float) -> float:
    """A change without float noise: 0.015 - 0.01 is 0.5 percentage points, not 0.4999…"""
    return round(change, 9)
