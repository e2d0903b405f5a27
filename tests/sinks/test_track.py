"""Which run a call started (receiver/sinks/track.py): where each preset's answer names it, an http
action's ``track:``, the load-time checks of both (located, all at once), and where the run is keyed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from receiver.config import load_config
from receiver.errors import ConfigError
from receiver.rules import Router, load_rules_for
from receiver.sinks import SINKS
from receiver.sinks.client import HttpClient
from receiver.sinks.track import StartedRun, TrackFailed
from receiver.store.runs import RunQuery
from tests.delivery.harness import run as harness
from tests.servers import RecordingServer, Reply
from tests.sinks.actions import action

EVENT: dict[str, Any] = {"id": "evt_1", "data": {"git": {"sha": "abc123"}}}
SOURCES = """\
sources:
  - {id: fus-a, kind: fusillade, secrets: [s1]}
  - {id: fume-hooks, kind: fume, verify: {scheme: token, header: X-T}, secrets: [s2]}
  - {id: nunu-1, kind: nunu, verify: {scheme: token, header: X-T}, secrets: [s3]}
  - {id: nunu-2, kind: nunu, verify: {scheme: token, header: X-T}, secrets: [s4]}
"""


def preset(kind: str, **options: Any) -> Any:
    spec = SINKS[kind]
    config = spec.config.model_validate({"api_key": "k" * 8, "base_url": "https://api.example", **options})
    return spec.create(f"{kind}-api", config, HttpClient())


def started(sink: Any, params: dict[str, Any], answer: Any) -> StartedRun | None:
    """The run ``sink`` reads from ``answer`` to a call of ``params`` (parsed as at send)."""
    result: StartedRun | None = sink.started_run(action(sink, params), answer, EVENT)
    return result


# (preset, its start-run action, the documented answer, the run id read from it)
STARTS = [
    ("fusillade", {"run_template": {"template_id": "t1"}}, {"test_id": "550e84", "status": "provisioning"}, "550e84"),
    ("bug0", {"run_tests": {"projectId": "p1"}}, {"success": True, "executionId": "exec_abc"}, "exec_abc"),
    ("fume", {"trigger": {"projectId": "p1"}}, {"runId": "run_42ab3d", "status": "queued"}, "run_42ab3d"),
    ("nunu", {"start_run": {"test": "smoke"}}, {"runId": 7031}, "7031"),
    ("automatedfuture", {"create_run": {"project_id": "p1"}}, {"test_run_id": "run_xyz789"}, "run_xyz789"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "params", "answer", "run_id"), STARTS, ids=[s[0] for s in STARTS])
def test_each_preset_reads_its_documented_run_id(kind: str, params: dict[str, Any], answer: Any, run_id: str) -> None:
    # Without a source of the platform the run is keyed by the sink (Bug0 sends no webhooks).
    assert started(preset(kind), params, answer) == StartedRun(f"{kind}-api", kind, run_id)


@pytest.mark.parametrize(
    ("kind", "params", "answer"),
    [
        ("fusillade", {"compare": {"test_id": "a", "baseline_id": "b"}}, {"test_id": "a"}),  # starts nothing
        ("fusillade", {"request": {"method": "POST", "path": "/api/v1/tests"}}, {"test_id": "x"}),
        ("automatedfuture", {"complete_run": {"test_run_id": "r"}}, {"test_run_id": "r"}),
    ],
)
def test_other_actions_start_no_run(kind: str, params: dict[str, Any], answer: Any) -> None:
    assert started(preset(kind), params, answer) is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": "queued"}, "the answer names no run (runId is missing)"),
        ({"runId": ""}, "the answer names no run (runId is empty)"),
        ({"runId": {"id": 1}}, "the answer names no run (runId is a dict)"),
        ({"runId": True}, "the answer names no run (runId is a bool)"),
        (["run_1"], "the answer names no run (runId is missing)"),
        (None, "the answer names no run (runId is missing)"),
        ({"runId": "x" * 300}, "the answer's runId is not a run id (300 characters)"),
        ({"runId": "kkkkkkkk"}, "the answer's run id holds one of the sink's secrets"),  # the api_key echoed
    ],
)
def test_an_answer_without_a_run_says_why_without_its_values(answer: Any, reason: str) -> None:
    with pytest.raises(TrackFailed) as info:
        started(preset("fume"), {"trigger": {}}, answer)
    assert str(info.value) == reason


def config_with(tmp_path: Path, sinks: str, rules: str = "rules: []\n") -> Path:
    (tmp_path / "rules.yaml").write_text(rules)
    path = tmp_path / "config.yaml"
    path.write_text(f"rules: [rules.yaml]\n{SOURCES}sinks:\n{sinks}")
    return path


@pytest.mark.parametrize(
    ("sink", "key"),
    [
        ("{id: f, kind: fusillade, api_key: k}", "fus-a"),  # the one fusillade source
        ("{id: f, kind: fume, api_key: k}", "fume-hooks"),
        ("{id: f, kind: nunu, api_key: k, base_url: 'https://n.example'}", "f"),  # two nunu sources: the sink
        ("{id: f, kind: nunu, api_key: k, base_url: 'https://n.example', runs_source: nunu-2}", "nunu-2"),
        ("{id: f, kind: bug0, api_key: k}", "f"),  # no bug0 source
    ],
)
def test_runs_are_keyed_by_the_source_that_reports_them(tmp_path: Path, sink: str, key: str) -> None:
    config = load_config(config_with(tmp_path, f"  - {sink}\n"))
    (options,) = [s.options for s in config.sinks.values()]
    built = SINKS[config.sinks["f"].kind].create("f", options, HttpClient())
    assert built.runs_source == key


def test_bad_runs_sources_are_located_all_at_once(tmp_path: Path) -> None:
    path = config_with(
        tmp_path,
        "  - {id: a, kind: fusillade, api_key: k, runs_source: nope}\n"
        "  - {id: b, kind: fusillade, api_key: k, runs_source: fume-hooks}\n"
        "  - {id: c, kind: bug0, api_key: k, runs_source: fus-a}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:8: sinks[0].runs_source: unknown source 'nope' (of kind fusillade: fus-a)",
        f"{path}:9: sinks[1].runs_source: source 'fume-hooks' is of kind fume, not fusillade",
        f"{path}:10: sinks[2].runs_source: source 'fus-a' is of kind fusillade, not bug0",
    ]


HTTP_SINK = "  - {id: hook, kind: http, base_url: 'https://ci.example'}\n"
TRACK_RULE = """\
rules:
  - name: start
    match: {type: deploy.done}
    actions:
      - sink: hook
        request: {method: POST, path: "/runs/{{ event.subject }}"}
        track: %s
"""


@pytest.mark.parametrize(
    ("track", "problems"),
    [
        ("{platform: nope, run_id: '{{ response.id }}'}", ["7: rules[0].actions[0].track.platform: unknown platform"]),
        ("{platform: fume, run_id: run_7}", ["7: rules[0].actions[0].track.run_id: must be a template that reads"]),
        ("{platform: fume}", ["7: rules[0].actions[0].track.run_id: required key is missing"]),
        ("{platform: fume, run_id: '{{ response.id }}', to: x}", ["7: rules[0].actions[0].track.to: unknown key"]),
        ("{platform: fume, run_id: '{{ response.id '}", ["7: rules[0].actions[0].track.run_id: invalid template"]),
    ],
)  # fmt: skip
def test_bad_track_is_located_at_load(tmp_path: Path, track: str, problems: list[str]) -> None:
    config = load_config(config_with(tmp_path, HTTP_SINK, TRACK_RULE % track))
    with pytest.raises(ConfigError) as info:
        load_rules_for(config)
    got = [str(p) for p in info.value.problems]
    assert len(got) == len(problems)
    for text, expected in zip(got, problems, strict=True):
        assert text.startswith(f"{tmp_path / 'rules.yaml'}:{expected}"), text


def test_routing_leaves_track_for_the_answer(tmp_path: Path) -> None:
    track = "{platform: fume, run_id: '{{ response.run.id }}'}"
    config = load_config(config_with(tmp_path, HTTP_SINK, TRACK_RULE % track))
    router = Router(load_rules_for(config))
    plan = router.plan({"id": "evt_1", "type": "deploy.done", "subject": "d/1", "data": {}})
    (delivery,) = plan.deliveries
    assert delivery.params == {
        "request": {"method": "POST", "path": "/runs/d%2F1"},
        "track": {"platform": "fume", "run_id": "{{ response.run.id }}"},
    }


@pytest.mark.parametrize(
    ("answer", "tracked"),
    [
        ({"run": {"id": "gen-7"}}, [("fume-hooks", "gen-7", "fume", "queued", "abc123")]),
        ({"run": {}}, []),  # the call succeeded; the run is not tracked, and the log says why
    ],
)
def test_http_track_records_the_run_its_answer_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, answer: Any, tracked: list[tuple[str, ...]]
) -> None:
    with RecordingServer(default=Reply(201, answer)) as api:
        sinks = {"hook": {"kind": "http", "base_url": api.url, "allow_private": True}}

        async def body(h: Any) -> None:
            h.dispatcher.sinks["hook"].runs_sources = {"fume": "fume-hooks"}  # as the config loader links them
            params = {"request": {"path": "/start"}, "track": {"platform": "fume", "run_id": "{{ response.run.id }}"}}
            delivery_id = await h.add("hook", params)
            # The triggering event's commit (Harness.add stores an event without one).
            envelope = '{"id": "evt", "data": {"git": {"sha": "abc123"}}}'
            await h.store.write(lambda c: c.execute("UPDATE events SET envelope = ?", (envelope,)))
            await h.dispatcher.run_once()
            assert (await h.delivery(delivery_id)).state == "succeeded"
            rows = await h.store.list_runs(RunQuery())
            assert [(r.source_id, r.run_id, r.platform, r.status, r.sha) for r in rows] == tracked
            assert all(r.trigger_delivery_id == delivery_id for r in rows)

        with caplog.at_level(logging.WARNING, "hookyard.delivery"):
            harness(tmp_path, sinks, body)
    warned = [r.getMessage() for r in caplog.records if "not tracked" in r.getMessage()]
    assert len(warned) == (0 if tracked else 1) and all("track.run_id: UndefinedError" in w for w in warned)
