"""Match operators (rules_ops): eq, ne, in, not_in, regex, glob, comparisons, exists, contains."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rules.helpers import MATCHED, assert_match_and_explain

OPERATOR_CASES: list[tuple[str, dict[str, Any], str]] = [
    # (case id, match, reason: "matched" or the exact explanation)
    ("eq-scalar", {"data.run.status": "completed"}, MATCHED),
    ("eq-scalar-fails", {"data.run.status": "failed"}, 'data.run.status: "completed" is not "failed"'),
    ("eq-int-float", {"data.metrics.requests": 1000.0}, MATCHED),
    ("eq-bool-is-not-int", {"data.flags.ok": 1}, "data.flags.ok: true is not 1"),
    ("eq-str-is-not-number", {"data.metrics.requests": "1000"}, 'data.metrics.requests: 1000 is not "1000"'),
    ("eq-op", {"data.flags.ok": {"eq": True}}, MATCHED),
    ("eq-missing", {"data.run.owner": "qa"}, "data.run.owner: missing"),
    (
        "eq-glob-chars-are-literal-off-attributes",
        {"data.run.name": "API*"},
        'data.run.name: "API Load Test" is not "API*"',
    ),
    ("ne", {"data.run.status": {"ne": "failed"}}, MATCHED),
    ("ne-fails", {"data.run.status": {"ne": "completed"}}, 'data.run.status: "completed" equals "completed"'),
    ("ne-missing", {"data.run.owner": {"ne": "qa"}}, MATCHED),
    ("ne-other-type", {"data.metrics.requests": {"ne": "1000"}}, MATCHED),
    ("list-is-in", {"data.run.status": ["failed", "completed"]}, MATCHED),
    (
        "list-is-in-fails",
        {"data.run.status": ["failed"]},
        'data.run.status: "completed" is not in ["failed"]',
    ),
    ("in", {"data.metrics.requests": {"in": [10, 1000]}}, MATCHED),
    ("in-kinds-apart", {"data.flags.ok": {"in": [1, "true"]}}, 'data.flags.ok: true is not in [1, "true"]'),
    ("in-missing", {"data.run.owner": {"in": ["qa"]}}, "data.run.owner: missing"),
    ("in-unhashable", {"data.run.tags": {"in": [["nightly", "api"]]}}, MATCHED),
    ("not_in", {"data.run.status": {"not_in": ["failed", "error"]}}, MATCHED),
    (
        "not_in-fails",
        {"data.run.status": {"not_in": ["completed"]}},
        'data.run.status: "completed" is in ["completed"]',
    ),
    ("not_in-missing", {"data.run.owner": {"not_in": ["qa"]}}, MATCHED),
    ("regex", {"data.run.name": {"regex": "^API"}}, MATCHED),
    ("regex-searches", {"data.run.name": {"regex": "Load"}}, MATCHED),
    (
        "regex-fails",
        {"data.run.name": {"regex": "^Web"}},
        'data.run.name: "API Load Test" does not match regex "^Web"',
    ),
    (
        "regex-on-number",
        {"data.metrics.requests": {"regex": "1"}},
        'data.metrics.requests: 1000 does not match regex "1" (a number, not a string)',
    ),
    ("regex-missing", {"data.run.owner": {"regex": "."}}, "data.run.owner: missing"),
    ("glob", {"data.run.name": {"glob": "API *"}}, MATCHED),
    (
        "glob-case-sensitive",
        {"data.run.name": {"glob": "api*"}},
        'data.run.name: "API Load Test" does not match glob "api*"',
    ),
    ("gt", {"data.metrics.p95_latency_ms": {"gt": 100}}, MATCHED),
    ("gt-equal-fails", {"data.metrics.requests": {"gt": 1000}}, "data.metrics.requests: 1000 is not > 1000"),
    ("gte", {"data.metrics.requests": {"gte": 1000}}, MATCHED),
    ("lt", {"data.metrics.error_rate": {"lt": 0.1}}, MATCHED),
    ("lt-fails", {"data.metrics.error_rate": {"lt": 0.05}}, "data.metrics.error_rate: 0.07 is not < 0.05"),
    ("lte", {"data.metrics.error_rate": {"lte": 0.07}}, MATCHED),
    ("lte-fails", {"data.metrics.error_rate": {"lte": 0.06}}, "data.metrics.error_rate: 0.07 is not <= 0.06"),
    ("compare-strings", {"time": {"gte": "2026-01-01"}}, MATCHED),
    (
        "compare-string-with-number",
        {"data.run.name": {"gt": 5}},
        'data.run.name: "API Load Test" is not > 5 (cannot compare a string with a number)',
    ),
    (
        "compare-bool-with-number",
        {"data.flags.ok": {"gte": 0}},
        "data.flags.ok: true is not >= 0 (cannot compare a boolean with a number)",
    ),
    ("compare-missing", {"data.metrics.rps": {"gt": 0}}, "data.metrics.rps: missing"),
    ("range", {"data.metrics.error_rate": {"gt": 0, "lt": 0.1}}, MATCHED),
    (
        "range-second-fails",
        {"data.metrics.error_rate": {"gt": 0, "lt": 0.01}},
        "data.metrics.error_rate: 0.07 is not < 0.01",
    ),
    ("exists", {"data.git.sha": {"exists": True}}, MATCHED),
    ("exists-fails", {"data.git.branch": {"exists": True}}, "data.git.branch: missing"),
    ("exists-false", {"data.bug": {"exists": False}}, MATCHED),
    ("exists-false-null", {"parent_id": {"exists": False}}, MATCHED),
    ("exists-false-fails", {"data.git.sha": {"exists": False}}, 'data.git.sha: "0123456789abcdef" exists'),
    ("exists-under-scalar", {"data.git.sha.x": {"exists": False}}, MATCHED),
    ("contains-list", {"data.run.tags": {"contains": "nightly"}}, MATCHED),
    ("contains-string", {"data.run.name": {"contains": "Load"}}, MATCHED),
    ("contains-mapping-key", {"data.metrics": {"contains": "p95_latency_ms"}}, MATCHED),
    (
        "contains-fails",
        {"data.run.tags": {"contains": "weekly"}},
        'data.run.tags: ["nightly", "api"] does not contain "weekly"',
    ),
    (
        "contains-number-in-string",
        {"data.run.name": {"contains": 1}},
        'data.run.name: "API Load Test" does not contain 1',
    ),
    ("list-index", {"data.run.tags.1": "api"}, MATCHED),
    ("list-index-out-of-range", {"data.run.tags.5": {"exists": True}}, "data.run.tags.5: missing"),
]


@pytest.mark.parametrize(("match", "reason"), [c[1:] for c in OPERATOR_CASES], ids=[c[0] for c in OPERATOR_CASES])
def test_match_and_explain(match: dict[str, Any], reason: str) -> None:
    assert_match_and_explain(match, reason)
