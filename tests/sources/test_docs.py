"""docs/events.md cannot rot: its examples are current adapter output and valid envelopes."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from receiver.sources import ADAPTERS
from tests.sources.helpers import ROOT, envelope_for, payload, validator

DOC = (ROOT / "docs" / "events.md").read_text()
EXAMPLES = re.findall(r"<!-- example: ([^>]+?) -->\n```json\n(.*?)\n```", DOC, re.S)


def test_there_is_an_example_per_platform() -> None:
    platforms = {spec.split("/")[0] for spec, _ in EXAMPLES}
    assert platforms >= set(ADAPTERS) - {"generic"}


@pytest.mark.parametrize(("spec", "text"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_is_what_the_adapter_produces(spec: str, text: str) -> None:
    shown = json.loads(text)
    assert not list(validator().iter_errors(shown))
    name, *extra = spec.split()
    platform, filename = name.split("/")
    events = [e.removeprefix("event=") for e in extra if e.startswith("event=")]
    headers = {"X-GitHub-Event": events[0]} if events else {}
    _, env = envelope_for(platform, payload(platform, filename), headers=headers)
    ignored = ("id", "source", "correlation_id")
    assert {k: v for k, v in shown.items() if k not in ignored} == {
        k: v for k, v in env.items() if k not in ignored
    }


def test_generic_yaml_example_loads_and_normalizes() -> None:
    block = re.search(r"```yaml\n(.*?)\n```", DOC, re.S)
    assert block is not None
    source = yaml.safe_load(block.group(1))["sources"][0]
    body = (
        b'{"event": "run.finished", "run": {"id": 7, "state": "FAILED", "stats": {"failures": 2}}, "at": 0}'
    )
    _, env = envelope_for(source["kind"], body, options=source["normalize"])
    assert env["type"] == "run.completed"
    assert env["subject"] == "7"
    assert env["data"]["run"]["outcome"] == "failed"
    assert env["data"]["run"]["url"] == "https://ci.example.com/runs/7"
    assert env["data"]["counts"]["failed"] == 2
    assert env["data"]["git"]["repo"] == "octo-org/app"
    assert "normalize_error" not in env
