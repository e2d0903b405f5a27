"""`hookyard replay --renormalize` and its twin on the page and the API (receiver/renormalize.py):
after a source's normalize: mapping is fixed, a stored event is normalized again from its raw
body, stored as a new event linked to the original, and routed."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from receiver.store import open_store
from receiver.store.base import DeliveryQuery, EventQuery, EventRow
from tests.cli_env import cli, ingest, workdir_fixture  # noqa: F401

# A CI payload whose status the shipped `ci` mapping does not know ("passed"), and whose id
# lives under build.number, not build.id.
BODY = json.dumps({"status": "passed", "pipeline": "deploy", "commit": "0a1b2c3", "build": {"number": 42}}).encode()
SHIPPED = "map: {success: run.completed, failure: run.completed, running: run.started}}\n      subject: build.id"
FIXED = "map: {passed: run.completed, failure: run.completed, running: run.started}}\n      subject: build.number"
RULE = """\
rules:
  - name: ci-done
    match: {type: run.completed, source: ci}
    actions:
      - sink: slack-perf
        title: "{{ event.data.run.name }} #{{ event.subject }}"
        body: "{{ event.data.git.sha }}"
"""


@pytest.fixture
def stored(workdir: Path) -> tuple[Path, str]:
    """A `ci` event stored under the shipped mapping (so it is ci.unknown), then the mapping fixed."""
    shutil.rmtree(workdir / "rules")
    (workdir / "rules").mkdir()
    (workdir / "rules" / "ci.yaml").write_text(RULE)
    cfg = workdir / "config.yaml"
    assert SHIPPED in cfg.read_text()
    [event_id] = ingest(cfg, [BODY], source="ci")
    cfg.write_text(cfg.read_text().replace(SHIPPED, FIXED))
    return cfg, event_id


def events(cfg: Path) -> tuple[list[EventRow], list[Any]]:
    async def read() -> tuple[list[EventRow], list[Any]]:
        store: Any = open_store(load_config(cfg).storage_url)
        await store.open()
        try:
            return list(await store.list_events(EventQuery())), list(await store.list_deliveries(DeliveryQuery()))
        finally:
            await store.close()

    return asyncio.run(read())


def check_renormalized(cfg: Path, original_id: str, new_id: str) -> None:
    rows, dlvs = events(cfg)
    by_id = {r.id: r for r in rows}
    old, new = by_id[original_id], by_id[new_id]
    assert (old.type, old.subject, old.matched_rules) == ("generic.unknown", None, [])
    assert old.normalize_error == "type: 'passed' is not in the map (success, failure, running)"
    assert (new.type, new.subject, new.matched_rules) == ("run.completed", "42", ["ci-done"])
    assert (new.parent_id, new.correlation_id, new.body) == (old.id, old.correlation_id, old.body)
    assert new.envelope["data"]["git"]["sha"] == "0a1b2c3"
    [d] = dlvs
    assert (d.event_id, d.replay_of, d.state.value) == (new_id, original_id, "queued")
    assert d.params == {"title": "deploy #42", "body": "0a1b2c3"}


def test_a_plain_replay_keeps_the_old_envelope(stored: tuple[Path, str]) -> None:
    cfg, event_id = stored
    code, out, _ = cli("replay", event_id, "--config", str(cfg))
    assert (code, out) == (0, f"{event_id}: no rule matches it now; nothing queued\n")


def test_replay_renormalize_from_the_cli(stored: tuple[Path, str]) -> None:
    cfg, event_id = stored
    code, out, err = cli("replay", "--renormalize", event_id, "--config", str(cfg))
    assert (code, err) == (0, ""), err
    m = re.match(rf"^(evt_\w+)  re-normalized from {event_id} \(run\.completed\); changed: type, subject, ", out)
    assert m is not None, out
    assert out.splitlines()[-1] == f"1 deliveries queued for {m.group(1)} (replay_of={event_id})"
    check_renormalized(cfg, event_id, m.group(1))


@pytest.mark.parametrize(
    ("rename_source", "event_id", "says"),
    [
        (False, "evt_nope", "error: no event evt_nope"),
        (
            True,
            None,
            "error: event {id} came from 'ci', which is not a configured source now; "
            "its source has no adapter to run again",
        ),
    ],
    ids=["no-such-event", "source-gone"],
)
def test_replay_renormalize_refusals(
    stored: tuple[Path, str], rename_source: bool, event_id: str | None, says: str
) -> None:
    cfg, stored_id = stored
    if rename_source:
        cfg.write_text(cfg.read_text().replace("  - id: ci\n", "  - id: ci-renamed\n"))
    event_id = event_id or stored_id
    code, out, err = cli("replay", "--renormalize", event_id, "--config", str(cfg))
    assert (code, out, err) == (1, "", says.format(id=event_id) + "\n")
    assert len(events(cfg)[0]) == 1  # nothing stored


def test_replay_renormalize_from_the_api_and_the_page(stored: tuple[Path, str]) -> None:
    cfg, event_id = stored
    config = load_config(cfg)
    app = create_app(config, deliver=False)
    with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as client:
        # The event page's Replay… leads to the confirmation page, which offers both replays.
        assert f'href="/ui/events/{event_id}/replay"' in client.get(f"/ui/events/{event_id}").text
        page = client.get(f"/ui/events/{event_id}/replay").text
        assert 'name="renormalize" value="1"' in page
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None
        r = client.post(
            f"/ui/events/{event_id}/replay",
            data={"csrf": csrf.group(1), "renormalize": "1"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        m = re.match(r"^/ui/events/(evt_\w+)\?done=renormalized&id=" + event_id + "&n=1$", r.headers["location"])
        assert m is not None, r.headers["location"]
        assert "Re-normalized from event" in client.get(r.headers["location"]).text
        check_renormalized(cfg, event_id, m.group(1))
        r = client.post(f"/api/events/{event_id}/replay?renormalize=true")
        assert r.status_code == 202
        answer = r.json()
        assert (answer["renormalized_from"], answer["matched_rules"]) == (event_id, ["ci-done"])
        assert answer["deliveries"][0]["replay_of"] == event_id
        r = client.post("/api/events/evt_nope/replay?renormalize=true")
        assert (r.status_code, r.json()["code"]) == (404, "event_not_found")
