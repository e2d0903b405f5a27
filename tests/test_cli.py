"""The hookyard command line, as a user runs it: exit codes and what it prints."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.cli_env import PAYLOADS, cli, ingest, workdir_fixture  # noqa: F401
from tests.helpers import ROOT, Daemon

SCHEMA = json.loads((ROOT / "receiver" / "schema" / "event.schema.json").read_text())


@pytest.fixture
def ingested(workdir: Path) -> Iterator[list[str]]:
    """Store a few real events through the app (no sending), return their ids."""
    yield ingest(workdir / "config.yaml", ["fusillade/completed.json", "fusillade/failed.json"])


def test_check_ok_and_located_problems(workdir: Path) -> None:
    code, out, _ = cli("check", "--config", str(workdir / "config.yaml"))
    assert code == 0
    assert out.startswith(f"{workdir / 'config.yaml'}: ok: 7 sources, 6 sinks, ")
    (workdir / "rules" / "99-bad.yaml").write_text(
        "rules:\n  - name: x\n    match: {type: a}\n    actions:\n      - sink: nowhere\n"
    )
    code, out, err = cli("check", "--config", str(workdir / "config.yaml"))
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"{workdir}/rules/99-bad.yaml:5: rules[0].actions[0].sink: unknown sink 'nowhere' "
        "(known: bug0-api, email-qa, fusillade-api, github, nunu-api, slack-perf)"
    ]


@pytest.mark.parametrize(
    ("source", "payload", "headers", "type_", "subject"),
    [
        ("fusillade", "fusillade/completed.json", [], "run.completed", "550e8400-e29b-41d4-a716-446655440000"),
        ("github", "github/pull_request_opened.json", ["X-GitHub-Event: pull_request"], "pr.opened", "42"),
        ("github", "github/pull_request_opened.json", [], "github.unknown", None),
        ("automatedfuture", "automatedfuture/result_bare_failed.json", [], "result.reported", None),
        ("bug0", "fusillade/not_json.json", [], "bug0.unknown", None),
    ],
)
def test_normalize_prints_the_envelope(
    workdir: Path, source: str, payload: str, headers: list[str], type_: str, subject: str | None
) -> None:
    args = ["normalize", "--config", str(workdir / "config.yaml"), "--source", source, str(PAYLOADS / payload)]
    for h in headers:
        args += ["--header", h]
    code, out, _ = cli(*args)
    assert code == 0
    envelope = json.loads(out)
    jsonschema.validate(envelope, SCHEMA)
    assert (envelope["type"], envelope["source"]) == (type_, source)
    if subject is not None:
        assert envelope["subject"] == subject
    if type_.endswith(".unknown"):
        assert envelope["normalize_error"]


def test_events_lists_newest_first(workdir: Path, ingested: list[str]) -> None:
    code, out, _ = cli("events", "--config", str(workdir / "config.yaml"), "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == list(reversed(ingested))
    assert rows[1]["matched_rules"] == ["load-test-compare-baseline"]
    assert rows[0]["type"] == "run.failed"
    code, out, _ = cli("events", "--config", str(workdir / "config.yaml"), "--source", "github")
    assert (code, out) == (0, "")


def test_rules_test_explains_and_renders(workdir: Path) -> None:
    cfg = str(workdir / "config.yaml")
    code, out, _ = cli(
        "rules", "test", "--config", cfg, "--source", "fusillade", str(PAYLOADS / "fusillade" / "completed.json")
    )
    assert code == 0
    assert "MATCH load-test-compare-baseline" in out
    assert (
        '→ fusillade-api emit comparison.completed: {"request": {"method": "GET", "path": '
        '"/api/v1/tests/550e8400-e29b-41d4-a716-446655440000/compare/550e8400-e29b-41d4-a716-446655440000"}}'
    ) in out
    assert 'type: "run.completed" is not "bug.reported"' in out
    # An envelope works as input as well, and --json is machine-readable.
    code, envelope, _ = cli(
        "normalize", "--config", cfg, "--source", "fusillade", str(PAYLOADS / "fusillade" / "completed.json")
    )
    (workdir / "event.json").write_text(envelope)
    code, out, _ = cli("rules", "test", "--config", cfg, "--json", str(workdir / "event.json"))
    report = json.loads(out)
    matched = [r for r in report["rules"] if r["matched"]]
    assert [r["rule"] for r in matched] == ["load-test-compare-baseline"]
    assert matched[0]["actions"][0]["sink"] == "fusillade-api"
    # A raw payload without --source is refused with a hint.
    code, _, err = cli("rules", "test", "--config", cfg, str(PAYLOADS / "fusillade" / "completed.json"))
    assert code == 1
    assert "not a Hookyard event envelope; for a raw platform payload pass --source ID" in err


def test_rules_diff_shows_routing_changes(workdir: Path, ingested: list[str]) -> None:
    proposed = workdir / "proposed"
    shutil.copytree(workdir / "rules", proposed)
    (proposed / "10-load-test-regression-gate.yaml").unlink()
    code, out, err = cli(
        "rules", "diff", "--config", str(workdir / "config.yaml"), "--rules", str(proposed), "--since", "1h"
    )
    assert code == 0
    assert out.splitlines()[:2] == [
        f"{ingested[0]}  fusillade  run.completed  550e8400-e29b-41d4-a716-446655440000",
        "    - load-test-compare-baseline[0] → fusillade-api (emit comparison.completed)",
    ]
    assert "2 events since 1h replayed: 1 would route differently" in out
    code, _, err = cli(
        "rules", "diff", "--config", str(workdir / "config.yaml"), "--rules", str(proposed), "--since", "soon"
    )
    assert code == 2
    assert "'soon' is not a duration like 30s, 5m, 12h or 7d" in err


def test_send_signs_with_the_source_scheme(workdir: Path, daemons: list[Daemon]) -> None:
    daemon = Daemon(workdir / "config.yaml").start()
    daemons.append(daemon)
    payload = str(PAYLOADS / "fusillade" / "completed.json")
    url = daemon.url + "/hooks/fusillade"
    code, out, _ = cli("send", "--config", str(workdir / "config.yaml"), "--source", "fusillade", "--url", url, payload)
    assert code == 0
    assert out.startswith("202 ")
    code, out, _ = cli("send", "--config", str(workdir / "config.yaml"), "--source", "fusillade", "--url", url, payload)
    assert (code, json.loads(out[4:])["duplicate"]) == (0, True)
    # A token-scheme source is signed too (the token travels in its header).
    code, out, _ = cli(
        "send",
        "--config",
        str(workdir / "config.yaml"),
        "--source",
        "bug0",
        "--url",
        daemon.url + "/hooks/bug0",
        str(PAYLOADS / "bug0" / "execution_completed.json"),
    )
    assert (code, out[:3]) == (0, "202")
