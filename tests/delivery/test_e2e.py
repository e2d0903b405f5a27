"""End to end with a real ``hookyard serve``: signed webhook → rules → sinks on loopback servers.

The shipped rule files are used as they are; only the config (sources and sinks) is the
test's, with every destination pointing at a local server that checks what it receives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.delivery.conftest import (
    FUSILLADE_API_KEY,
    GITHUB_TOKEN,
    SHIPPED_RULES,
    SLACK_PATH,
    Stack,
)
from tests.helpers import fusillade_body
from tests.servers import Received, RecordingServer, Reply, SmtpSink

GATE = str(SHIPPED_RULES / "10-load-test-regression-gate.yaml")
FAILED_RUNS = str(SHIPPED_RULES / "20-failed-runs.yaml")
BASELINE = "550e8400-e29b-41d4-a716-446655440000"  # "API Load Test" in the shipped rule file's vars
SHA_RED = "3f786850e387550fdab836ed7e6dc881de23001b"
SHA_GREEN = "89e6c98d92887913cadf06b2adb97f26cde4849b"
REASONS = [
    "p95 latency increased 14.8% (89.2 ms to 102.4 ms)",
    "error rate increased 0.9 percentage points (0.1% to 1.0%)",
    "throughput fell 5.6% (1250 rps to 1180 rps) across every target of the run",
]

# A CI that runs its load tests as "<test name> @ <commit>" (Fusillade payloads carry no
# commit): the source's normalize block turns that into data.run.name and data.git.
SOURCE_WITH_GIT = """\
  - id: fusillade
    kind: fusillade
    secrets: ['${FUS_SECRET}']
    normalize:
      data.run.name: "{{ payload.data.name.split(' @ ')[0] }}"
      data.git.sha: "{{ payload.data.name.split(' @ ')[1] if ' @ ' in payload.data.name else '' }}"
      data.git.repo: {value: octo-org/shop}
"""


def sinks(
    fus_api: RecordingServer,
    github: RecordingServer,
    slack: RecordingServer,
    smtp: SmtpSink | None = None,
) -> str:
    text = f"""\
  - id: fusillade-api
    kind: fusillade
    api_key: '${{FUS_KEY}}'
    base_url: {fus_api.url}
    allow_private: true
  - id: github
    kind: github_status
    token: '${{GH_TOKEN}}'
    api_url: {github.url}
    allow_private: true
  - id: slack-perf
    kind: apprise
    urls: [{{url: '${{SLACK_URL}}', tag: perf}}]
    slack_base_url: {slack.url}/services
    rate_per_second: 50
"""
    if smtp is not None:
        text += f"""\
  - id: email-qa
    kind: apprise
    urls: ['mailto://127.0.0.1:{smtp.port}?mode=insecure&from=hookyard@example.com&to=qa@example.com']
"""
    return text


def compare_answer(regression: bool) -> dict[str, Any]:
    """The documented compare response (fusillade-api.txt, "Test Comparison")."""
    p95 = 102.4 if regression else 88.0
    current = {
        "name": "API Load Test",
        "status": "completed",
        "p95_latency_ms": p95,
        "error_rate": 0.01 if regression else 0.001,
    }
    return {
        "baseline": {"name": "API Load Test", "status": "completed", "p95_latency_ms": 89.2, "error_rate": 0.001},
        "current": current,
        "delta": {"p95_latency_ms": round(p95 - 89.2, 1)},
        "regression": regression,
        "regression_reasons": REASONS if regression else [],
    }


def fusillade_api(answers: dict[str, bool]) -> RecordingServer:
    """Answers ``GET /api/v1/tests/{id}/compare/{baseline}`` for the test ids in ``answers``."""

    def respond(got: Received) -> Reply:
        parts = got.path.split("/")
        if got.method != "GET" or parts[:4] != ["", "api", "v1", "tests"] or parts[5:6] != ["compare"]:
            return Reply(404, {"error": "not found"})
        if got.headers.get("authorization") != f"Bearer {FUSILLADE_API_KEY}":
            return Reply(401, {"error": "unauthorized"})
        if parts[4] not in answers or parts[6] != BASELINE:
            return Reply(404, {"error": "no such test"})
        return Reply(200, compare_answer(answers[parts[4]]))

    return RecordingServer(respond)


def github_api(got: Received) -> Reply:
    """GitHub's status endpoint as far as the tests need it (422 on a description over 140)."""
    parts = got.path.split("/")
    if got.method != "POST" or len(parts) != 6 or parts[1] != "repos" or parts[4] != "statuses":
        return Reply(404, {"message": "Not Found"})
    if got.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
        return Reply(401, {"message": "Bad credentials"})
    body = got.json
    if len(body.get("description") or "") > 140:
        return Reply(422, {"message": "Validation Failed"})
    return Reply(201, {"id": 1, "state": body["state"], "context": body["context"]})


@pytest.fixture
def answers() -> dict[str, bool]:
    return {}


@pytest.fixture
def fus_api(answers: dict[str, bool]) -> Iterator[RecordingServer]:
    with fusillade_api(answers) as srv:
        yield srv


@pytest.fixture
def github() -> Iterator[RecordingServer]:
    with RecordingServer(github_api) as srv:
        yield srv


def chain(stack: Stack, root: str) -> list[dict[str, Any]]:
    """Every delivery of the event chain started by ``root``, once all of them are final."""
    return stack.settled("event_id IN (SELECT id FROM events WHERE correlation_id = ?)", root)


def test_regression_gate_fails_then_passes_the_commit(
    stack: Stack,
    fus_api: RecordingServer,
    github: RecordingServer,
    slack: RecordingServer,
    answers: dict[str, bool],
) -> None:
    stack.write(sinks=sinks(fus_api, github, slack), rules=[GATE], sources=SOURCE_WITH_GIT)
    stack.start()
    answers.update({"run-red": True, "run-green": False})

    root = stack.post(fusillade_body("test.completed", "run-red", f"API Load Test @ {SHA_RED}"))
    done = {d["sink_id"]: d for d in chain(stack, root)}
    assert {k: (d["rule"], d["state"], d["attempts"]) for k, d in done.items()} == {
        "fusillade-api": ("load-test-compare-baseline", "succeeded", 1),
        "github": ("load-test-regressed", "succeeded", 1),
        "slack-perf": ("load-test-regressed", "succeeded", 1),
    }

    # The compare call: documented path, bearer key, the delivery id as Idempotency-Key.
    (call,) = fus_api.received
    assert call.path == f"/api/v1/tests/run-red/compare/{BASELINE}"
    assert call.headers["authorization"] == f"Bearer {FUSILLADE_API_KEY}"
    assert call.headers["idempotency-key"] == done["fusillade-api"]["id"]

    # Its answer became a derived event carrying the run and git sections of the original.
    (child,) = stack.children(root)
    derived = stack.event(child)
    data = derived["envelope"]["data"]
    assert (derived["kind"], derived["type"], derived["parent_id"], derived["correlation_id"]) == (
        "derived",
        "comparison.completed",
        root,
        root,
    )
    assert derived["matched_rules"] == ["load-test-regressed"]
    assert data["response"] == compare_answer(True)
    assert (data["run"]["id"], data["run"]["name"]) == ("run-red", "API Load Test")
    assert (data["git"]["repo"], data["git"]["sha"]) == ("octo-org/shop", SHA_RED)
    assert done["github"]["event_id"] == done["slack-perf"]["event_id"] == child

    (status,) = github.received
    assert status.path == f"/repos/octo-org/shop/statuses/{SHA_RED}"
    assert status.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert status.headers["accept"] == "application/vnd.github+json"
    assert status.headers["x-github-api-version"] == "2022-11-28"
    sent = status.json
    assert (sent["state"], sent["context"]) == ("failure", "perf/load-test")
    assert sent["target_url"] == "https://app.fusillade.io/tests/run-red"
    joined = "; ".join(REASONS)
    assert len(joined) > 140 and len(sent["description"]) <= 140
    assert sent["description"].startswith(REASONS[0] + "; " + REASONS[1])

    (message,) = slack.received
    assert message.path == SLACK_PATH
    text = message.json["text"]
    assert text.startswith(f"*Regression: API Load Test on {SHA_RED[:7]}*\n")
    assert all(f"• {reason}" in text for reason in REASONS)
    assert "p95 102.4 ms (baseline 89.2 ms), errors 1.00%" in text

    # A run without regression turns the commit green and stays quiet in Slack.
    root2 = stack.post(fusillade_body("test.completed", "run-green", f"API Load Test @ {SHA_GREEN}"))
    done2 = {d["sink_id"]: (d["rule"], d["state"]) for d in chain(stack, root2)}
    assert done2 == {
        "fusillade-api": ("load-test-compare-baseline", "succeeded"),
        "github": ("load-test-passed", "succeeded"),
    }
    assert [r.path for r in fus_api.received][1] == f"/api/v1/tests/run-green/compare/{BASELINE}"
    assert github.received[1].path == f"/repos/octo-org/shop/statuses/{SHA_GREEN}"
    assert github.received[1].json == {
        "state": "success",
        "context": "perf/load-test",
        "description": "p95 88.0 ms, no regression against the baseline",
        "target_url": "https://app.fusillade.io/tests/run-green",
    }
    assert len(slack.received) == 1
    stack.assert_no_secrets(log=False)


def test_plain_fusillade_webhook_stops_after_the_comparison(
    stack: Stack,
    fus_api: RecordingServer,
    github: RecordingServer,
    slack: RecordingServer,
    answers: dict[str, bool],
) -> None:
    """Fusillade payloads carry no commit: the comparison is made and logged, but no
    commit status is attempted (the shipped rules require data.git.sha)."""
    stack.write(sinks=sinks(fus_api, github, slack), rules=[GATE])
    stack.start()
    answers["run-plain"] = True
    root = stack.post(fusillade_body("test.completed", "run-plain", "API Load Test"))
    (compare,) = chain(stack, root)
    assert (compare["sink_id"], compare["state"]) == ("fusillade-api", "succeeded")
    (child,) = stack.children(root)
    derived = stack.event(child)
    assert derived["type"] == "comparison.completed" and derived["matched_rules"] == []
    assert derived["envelope"]["data"]["response"]["regression"] is True
    assert "git" not in derived["envelope"]["data"]
    assert stack.deliveries("event_id = ?", child) == []
    assert github.received == [] and slack.received == []

    # A run with no baseline in the rule file's vars is not compared at all.
    other = stack.post(fusillade_body("test.completed", "run-x", "Unknown Test"))
    assert stack.event(other)["matched_rules"] == []
    assert stack.deliveries("event_id = ?", other) == []
    assert len(fus_api.received) == 1


def test_failed_run_is_mailed_and_replay_sends_it_again(
    stack: Stack,
    fus_api: RecordingServer,
    github: RecordingServer,
    slack: RecordingServer,
    smtp: SmtpSink,
) -> None:
    stack.write(sinks=sinks(fus_api, github, slack, smtp), rules=[FAILED_RUNS])
    stack.start()
    root = stack.post(fusillade_body("test.failed", "run-broken", "Broken script"))
    first = stack.settled("event_id = ?", root)
    assert sorted((d["sink_id"], d["state"], d["replay_of"]) for d in first) == [
        ("email-qa", "succeeded", None),
        ("slack-perf", "succeeded", None),
    ]

    (mail,) = smtp.messages
    assert mail["Subject"] == "[fusillade] Broken script errored"
    assert smtp.envelopes[0] == ("hookyard@example.com", ["qa@example.com"])
    text = _plain_text(mail)
    assert "Run:       run-broken" in text
    assert "Platform:  fusillade (test.failed)" in text
    assert "Outcome:   errored (status failed)" in text
    assert f"Event id:  {root}" in text
    assert slack.received[0].json["text"].startswith("*fusillade run errored: Broken script*")

    # Replay: new deliveries of the same event, linked to it, and delivered again.
    done = stack.cli("replay", root)
    assert done.returncode == 0, done.stderr
    assert f"2 deliveries queued for {root} (replay_of={root})" in done.stdout
    replayed = stack.settled("replay_of = ?", root)
    assert sorted((d["sink_id"], d["state"], d["event_id"]) for d in replayed) == [
        ("email-qa", "succeeded", root),
        ("slack-perf", "succeeded", root),
    ]
    assert {d["id"] for d in replayed}.isdisjoint(d["id"] for d in first)
    assert len(smtp.messages) == 2 and smtp.messages[1]["Subject"] == mail["Subject"]
    assert len(slack.received) == 2
    stack.assert_no_secrets(log=False)


def _plain_text(message: Any) -> str:
    parts = [p.get_payload(decode=True) for p in message.walk() if p.get_content_type() == "text/plain"]
    return "\n".join(p.decode() for p in parts if isinstance(p, bytes))


def test_params_in_the_delivery_log_are_the_rendered_action(
    stack: Stack,
    fus_api: RecordingServer,
    github: RecordingServer,
    slack: RecordingServer,
    answers: dict[str, bool],
) -> None:
    """What the log shows is what was sent: the compare request as rendered at receipt."""
    stack.write(sinks=sinks(fus_api, github, slack), rules=[GATE])
    stack.start()
    answers["run-p"] = False
    root = stack.post(fusillade_body("test.completed", "run-p", "API Load Test"))
    (compare,) = chain(stack, root)
    assert json.loads(compare["params"]) == {
        "request": {"method": "GET", "path": f"/api/v1/tests/run-p/compare/{BASELINE}"}
    }


TYPED_BODY_RULE = """\
rules:
  - name: record-run
    match: {platform: fusillade, type: run.completed}
    actions:
      - sink: results
        request:
          method: POST
          path: /result/
          json:
            name: "{{ event.data.run.name }}"
            execution_time_ms: !json "{{ event.data.run.duration_ms | tojson }}"
            passed: !json "{{ (event.data.run.outcome == 'passed') | tojson }}"
            metadata: !json "{{ dict(workers=event.data.metrics.workers, runs=[event.subject]) | tojson }}"
            tags: !json '["load", "ci"]'
"""


def test_json_tagged_templates_send_typed_values(stack: Stack) -> None:
    """A follow-up API that wants numbers and objects gets them, not their text."""
    with RecordingServer(default=Reply(200, {"ok": True})) as results:
        sink = f"  - id: results\n    kind: http\n    base_url: {results.url}\n    allow_private: true\n"
        stack.write(sinks=sink, rules=[stack.rule_file("typed.yaml", TYPED_BODY_RULE)])
        stack.start()
        root = stack.post(fusillade_body("test.completed", "run-t", "API Load Test"))
        (d,) = stack.settled("event_id = ?", root)
        assert d["state"] == "succeeded", d["last_error"]
        (got,) = results.received
        assert got.json == {
            "name": "API Load Test",
            "execution_time_ms": 60000,
            "passed": True,
            "metadata": {"workers": 100, "runs": ["run-t"]},
            "tags": ["load", "ci"],
        }


def test_daemon_log_has_no_secret(
    stack: Stack,
    fus_api: RecordingServer,
    github: RecordingServer,
    slack: RecordingServer,
    smtp: SmtpSink,
) -> None:
    stack.write(sinks=sinks(fus_api, github, slack, smtp), rules=[FAILED_RUNS])
    stack.start()
    root = stack.post(fusillade_body("test.failed", "run-log", "Logged"))
    assert [d["state"] for d in stack.settled("event_id = ?", root)] == ["succeeded", "succeeded"]
    stack.assert_no_secrets()
