"""An action's params are validated once per stage: at load (as written), at receipt (rendered:
that model orders and is stored), at send (the stored params, read back once).

Each test counts every validation of one action model (its pydantic validator, however it is
reached) while real parts run: rule files on disk, the router with real sinks, the dispatcher
with a real SQLite file and a real local server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from receiver.rules import Router, RuleSet, load_rules
from receiver.sinks import SINKS
from receiver.sinks.client import HttpClient
from receiver.sinks.github_status import GitHubStatusAction
from receiver.sinks.http import HttpAction
from receiver.store.base import DeliveryState
from receiver.store.runs import RunQuery
from tests.delivery.harness import Harness, run
from tests.servers import RecordingServer, Reply

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
EVENT: dict[str, Any] = {
    "id": "evt_01",
    "type": "run.completed",
    "subject": "t-1",
    "data": {"git": {"repo": "acme/shop", "sha": SHA}, "run": {"outcome": "failed"}},
}
STATUS = {"sink": "gh", "state": "{{ 'failure' if event.data.run.outcome == 'failed' else 'success' }}",
          "context": "perf", "description": "run {{ event.subject }}"}  # fmt: skip
START = {"sink": "api", "request": {"path": "/runs/{{ event.subject }}", "json": {"go": True}},
         "track": {"platform": "fume", "run_id": "{{ response.runId }}"}}  # fmt: skip


class _Counted:
    """A model's validator that counts its calls and delegates everything else."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def validate_python(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.validate_python(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch, model: type[BaseModel]) -> Iterator[_Counted]:
    """Count the validations of ``model`` (``model_validate`` and construction both land here)."""
    counted = _Counted(model.__pydantic_validator__)
    with monkeypatch.context() as m:
        m.setattr(model, "__pydantic_validator__", counted)
        yield counted


def rules(tmp_path: Path, *actions: dict[str, Any]) -> RuleSet:
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": [{"name": "r", "actions": list(actions)}]}))
    return load_rules([tmp_path / "r.yaml"], {"gh": GitHubStatusAction, "api": HttpAction})


def github_sink(client: HttpClient) -> Any:
    spec = SINKS["github_status"]
    return spec.create("gh", spec.config.model_validate({"token": "ghp_" + "t" * 20}), client)


def test_the_counter_sees_each_way_of_validating(monkeypatch: pytest.MonkeyPatch) -> None:
    # The counter is only evidence if it sees model_validate and plain construction alike.
    with counting(monkeypatch, GitHubStatusAction) as counted:
        GitHubStatusAction.model_validate({"state": "success"})
        GitHubStatusAction(state="pending")
    assert counted.calls == 2


@pytest.mark.parametrize(("model", "action"), [(GitHubStatusAction, STATUS), (HttpAction, START)])
def test_load_validates_each_action_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: type[BaseModel], action: dict[str, Any]
) -> None:
    with counting(monkeypatch, model) as counted:
        rules(tmp_path, action, action)
    assert counted.calls == 2  # two actions, one check each


def test_receipt_validates_once_and_that_model_orders_and_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = Router(rules(tmp_path, STATUS), {"gh": github_sink(HttpClient())})
    with counting(monkeypatch, GitHubStatusAction) as counted:
        [delivery] = router.plan(EVENT).deliveries
    assert counted.calls == 1  # was 2: rendered params checked, then parsed again for the ordering key
    assert delivery.state is DeliveryState.QUEUED
    # Stored as written (only the keys the rule gave), ordered by the commit it reports on.
    assert delivery.params == {"state": "failure", "context": "perf", "description": "run t-1"}
    assert delivery.ordering_key == "\x1f".join(("acme/shop", SHA, "perf"))


def test_a_rendered_value_the_model_refuses_is_dead_at_receipt_with_its_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = Router(rules(tmp_path, {**STATUS, "state": "{{ event.subject }}"}), {"gh": github_sink(HttpClient())})
    with counting(monkeypatch, GitHubStatusAction) as counted:
        [delivery] = router.plan(EVENT).deliveries
    assert counted.calls == 1
    assert delivery.state is DeliveryState.DEAD and delivery.params is None and delivery.ordering_key is None
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("template error: rendered params are invalid: state: Input should be")
    assert "t-1" not in delivery.last_error  # the rendered value itself is not echoed


def test_send_reads_the_stored_params_back_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An http action that starts a run: the call and reading the run it started share one model.
    [delivery] = Router(rules(tmp_path, START)).plan(EVENT).deliveries
    assert delivery.params is not None
    with RecordingServer() as server:
        server.script(Reply(200, {"runId": "run_42"}))

        async def body(h: Harness) -> None:
            dlv = await h.add("api", delivery.params or {})
            with counting(monkeypatch, HttpAction) as counted:
                await h.dispatcher.run_once()
            assert counted.calls == 1  # was 2: parsed for the request, then again for track:
            row = await h.delivery(dlv)
            assert row.state is DeliveryState.SUCCEEDED and row.params == delivery.params
            assert server.received[0].path == "/runs/t-1" and server.received[0].json == {"go": True}
            # ``track:`` read the run from the answer with the same model: the run is recorded.
            [started] = await h.store.list_runs(RunQuery())
            assert (started.source_id, started.platform, started.run_id) == ("api", "fume", "run_42")

        run(tmp_path, {"api": {"kind": "http", "base_url": server.url, "allow_private": True}}, body)


def test_stored_params_a_sink_now_refuses_fail_permanently_without_a_request(tmp_path: Path) -> None:
    # The sink id now names another kind (a config change): the stored params are not its model's.
    with RecordingServer() as server:

        async def body(h: Harness) -> None:
            dlv = await h.add("api", {"state": "success", "repo": "acme/shop", "sha": SHA})
            await h.dispatcher.run_once()
            row = await h.delivery(dlv)
            assert row.state is DeliveryState.DEAD
            assert row.last_error == (
                "invalid action params: request: Field required; state: Extra inputs are not permitted; "
                "repo: Extra inputs are not permitted; sha: Extra inputs are not permitted"
            )
            [attempt] = await h.attempts(dlv)
            assert attempt.outcome == "failed" and attempt.error_class == "permanent"
            assert server.received == []

        run(tmp_path, {"api": {"kind": "http", "base_url": server.url, "allow_private": True}}, body)
