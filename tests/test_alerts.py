"""docs/alerts.yaml: a valid Prometheus rule file that names only metrics Hookyard exports."""

from __future__ import annotations

import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from receiver.metrics import Metrics, QueueSnapshot
from tests.helpers import ROOT

# The sample names each metric type exposes in the text format.
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported() -> set[str]:
    text = Metrics().render(QueueSnapshot({"queued": 1}, 0.0)).decode()
    return {f.name + suffix for f in text_string_to_metric_families(text) for suffix in _SUFFIXES[f.type]}


def test_alert_rules_parse_and_name_only_exported_metrics() -> None:
    doc = yaml.safe_load((ROOT / "docs" / "alerts.yaml").read_text())
    (group,) = doc["groups"]
    rules = group["rules"]
    names = [r["alert"] for r in rules]
    assert names == [
        "HookyardDeadLetters",
        "HookyardQueueStuck",
        "HookyardBreakerOpen",
        "HookyardRejectedSignatureSpike",
        "HookyardRetentionFailing",
        "HookyardPollsFailing",
    ]
    known = exported()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "description"} <= set(rule["annotations"])
        used = set(re.findall(r"\bhookyard_[a-z_]+", rule["expr"]))
        assert used and used <= known, (rule["alert"], used - known)
        assert rule["expr"].count("(") == rule["expr"].count(")")
