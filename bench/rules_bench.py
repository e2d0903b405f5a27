"""Benchmark ``RuleSet.plan``: 500 varied rules against 10,000 varied envelopes.

Run from the repository root:  .venv/bin/python bench/rules_bench.py [--rules 500] [--events 10000]
The target is under 200 µs per event on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from receiver.rules import load_rules

PLATFORMS = ["fusillade", "automatedfuture", "nunu", "bug0", "fume", "github", "generic"]
VERBS = ["started", "completed", "failed", "errored", "queued", "cancelled"]
TYPES = [f"run.{v}" for v in VERBS] + ["bug.reported", "pr.opened", "pr.synchronize", "pr.closed"]
TYPES += ["comparison.completed", "threshold.breached", "result.reported", "artifact.uploaded"]
TYPES += [f"{p}.unknown" for p in PLATFORMS]
SOURCES = [f"{p}-{env}" for p in PLATFORMS for env in ("prod", "staging")]
NAMES = ["API Load Test", "Checkout Flow", "Login smoke", "Search soak", "Nightly regression", "scratch-1"]
STATUSES = ["completed", "failed", "error", "passed", "running", "cancelled"]
SEVERITIES = ["critical", "high", "medium", "low"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    body: str


def make_rule(i: int, rnd: random.Random) -> dict[str, Any]:
    kind = rnd.random()
    match: dict[str, Any] = {}
    rule: dict[str, Any] = {"name": f"rule-{i:03d}"}
    if kind < 0.40:  # literal type plus numeric or set conditions
        match["type"] = rnd.choice(TYPES)
        match["data.metrics.error_rate"] = {rnd.choice(["lt", "gt", "lte"]): round(rnd.random() / 10, 3)}
        if rnd.random() < 0.5:
            match["data.run.status"] = rnd.sample(STATUSES, 2)
    elif kind < 0.55:  # literal source(s)
        match["source"] = rnd.sample(SOURCES, rnd.randint(1, 3))
        match["data.counts.failed"] = {"gte": rnd.randint(0, 5)}
    elif kind < 0.70:  # type glob and a regex
        match["type"] = rnd.choice(["run.*", "pr.*", "*.unknown", "bug.*"])
        match["data.run.name"] = {"regex": rnd.choice(["^API", "smoke$", "(?i)checkout", "^Nightly"])}
    elif kind < 0.80:  # combinators
        match["platform"] = rnd.choice(PLATFORMS)
        match["any"] = [
            {"data.run.status": {"in": ["failed", "error"]}},
            {"data.metrics.p95_latency_ms": {"gt": rnd.randint(100, 900)}},
        ]
        match["not"] = {"data.run.name": {"glob": "scratch-*"}}
    elif kind < 0.90:  # a when: expression
        match["type"] = rnd.choice(TYPES)
        rule["when"] = f"event.data.metrics.p95_latency_ms > {rnd.randint(50, 800)}"
    else:  # no type/source: looked at for every event
        match["data.bug.severity"] = rnd.choice(SEVERITIES)
        match["data.bug.title"] = {"exists": True}
    rule["match"] = match
    rule["actions"] = [{"sink": "slack", "title": "{{ event.type }}", "body": "{{ event.data.run.name }}"}]
    rule["stop"] = rnd.random() < 0.02
    return rule


def make_event(i: int, rnd: random.Random) -> dict[str, Any]:
    platform = rnd.choice(PLATFORMS)
    data: dict[str, Any] = {
        "run": {"id": f"run_{i}", "name": rnd.choice(NAMES), "status": rnd.choice(STATUSES)},
        "metrics": {"error_rate": round(rnd.random() / 10, 4), "p95_latency_ms": rnd.randint(10, 1000)},
        "counts": {"total": 100, "failed": rnd.randint(0, 10)},
    }
    if rnd.random() < 0.3:
        data["bug"] = {"title": "Something broke", "severity": rnd.choice(SEVERITIES)}
    return {
        "specversion": "1.0",
        "id": f"evt_{i:08d}",
        "source": f"{platform}-{rnd.choice(['prod', 'staging'])}",
        "type": rnd.choice(TYPES),
        "subject": f"run_{i}",
        "time": "2026-02-06T12:00:00Z",
        "platform": platform,
        "platform_event": "x",
        "received_at": "2026-02-06T12:00:00.000Z",
        "correlation_id": f"evt_{i:08d}",
        "parent_id": None,
        "data": data,
        "raw": {},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rules", type=int, default=500)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    rules = [make_rule(i, rnd) for i in range(args.rules)]
    events = [make_event(i, rnd) for i in range(args.events)]
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(0, len(rules), 50):  # ten files of 50 rules
            text = yaml.safe_dump({"rules": rules[n : n + 50]}, sort_keys=False)
            (Path(tmp) / f"{n // 50:02d}-bench.yaml").write_text(text, encoding="utf-8")
        t0 = time.perf_counter()
        ruleset = load_rules([tmp], {"slack": Params})
        load_ms = (time.perf_counter() - t0) * 1000
    t0, c0 = time.perf_counter(), time.process_time()
    planned = sum(len(ruleset.plan(e)) for e in events)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    per_event = elapsed / len(events) * 1e6
    print(f"loaded {len(ruleset.rules)} rules in {load_ms:.0f} ms")
    print(f"planned {planned} actions for {len(events)} events")
    print(f"plan: {per_event:.1f} µs per event (target < 200 µs); CPU time {cpu / len(events) * 1e6:.1f} µs")
    print("rerun: .venv/bin/python bench/rules_bench.py --rules 500 --events 10000")


if __name__ == "__main__":
    main()
