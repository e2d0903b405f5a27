"""Shared by the rules tests: one realistic event, rule files written to disk and loaded."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from receiver.rules import RuleSet, load_rules
from tests.testdata.rules.sink_models import SINKS

ROOT = Path(__file__).resolve().parent.parent.parent
EVENTS = ROOT / "tests" / "testdata" / "rules" / "events"

EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "evt_01",
    "source": "fusillade-prod",
    "type": "run.completed",
    "subject": "t-1",
    "time": "2026-02-06T12:00:00Z",
    "platform": "fusillade",
    "platform_event": "test.completed",
    "received_at": "2026-02-06T12:00:01.000Z",
    "correlation_id": "evt_01",
    "parent_id": None,
    "data": {
        "run": {"name": "API Load Test", "status": "completed", "tags": ["nightly", "api"]},
        "metrics": {"error_rate": 0.07, "p95_latency_ms": 120.5, "requests": 1000},
        "flags": {"ok": True},
        "git": {"sha": "0123456789abcdef"},
    },
    "raw": {"event": "test.completed"},
}


def event(**changes: Any) -> dict[str, Any]:
    """EVENT with top-level attributes replaced."""
    e = copy.deepcopy(EVENT)
    e.update(changes)
    return e


def write(root: Path, files: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


def one_rule(match: dict[str, Any], **extra: Any) -> RuleSet:
    text = yaml.safe_dump({"rules": [{"name": "r", "match": match, **extra}]}, sort_keys=False)
    return load_text({"r.yaml": text})


def load_text(files: dict[str, str]) -> RuleSet:
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), files)
        return load_rules([tmp], SINKS)


MATCHED = "matched"


def assert_match_and_explain(match: dict[str, Any], reason: str) -> None:
    """One rule with ``match``: it matches EVENT exactly when ``reason`` is MATCHED, and explains why not."""
    rules = one_rule(match)
    matched = reason == MATCHED
    assert [r.name for r in rules.match(EVENT)] == (["r"] if matched else [])
    [exp] = rules.explain(EVENT)
    assert exp.to_dict() == {
        "rule": "r",
        "file": exp.file,
        "line": 2,
        "matched": matched,
        "reason": reason,
        "skipped_by": None,
    }
    json.dumps(exp.to_dict())  # JSON-friendly
