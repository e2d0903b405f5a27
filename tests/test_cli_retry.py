"""Retrying a dead delivery (receiver/retrying.py) from the CLI, the API and the page: one that
died on its template is rendered again under the rules in force, or refused with the reason."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import load_config
from receiver.rules import load_rules_for
from receiver.store import open_store
from receiver.store.base import DeliveryQuery, DeliveryRow
from tests.cli_env import cli, ingest, workdir_fixture  # noqa: F401

RULE = """\
rules:
  - name: notify
    match: {{type: run.completed}}
    actions:
      - sink: slack-perf
        title: "{{{{ event.data.run.name }}}}"
        body: "{body}"
"""
BROKEN = "{{ event.data.run.nme }}"  # a typo: the template fails, the delivery dies at receipt
FIXED = "{{ event.data.run.name }} finished"
FAILS = "template error in body: 'dict object' has no attribute 'nme'"
DIED = f"template error: {FAILS}"  # what routing records on the dead delivery


def write_rule(folder: Path, body: str = BROKEN, name: str = "notify") -> None:
    (folder / "rules" / "notify.yaml").write_text(RULE.format(body=body).replace("name: notify", f"name: {name}"))


@pytest.fixture
def dead(workdir: Path) -> tuple[Path, str]:
    """A stored event whose only delivery died on a template error; (config, delivery id)."""
    shutil.rmtree(workdir / "rules")
    (workdir / "rules").mkdir()
    write_rule(workdir)
    cfg = workdir / "config.yaml"
    ingest(cfg, ["fusillade/completed.json"])
    rows = deliveries(cfg)
    assert [(r.state.value, r.params) for r in rows] == [("dead", None)]
    assert rows[0].last_error == DIED
    return cfg, rows[0].id


def deliveries(cfg: Path) -> list[DeliveryRow]:
    async def read() -> list[DeliveryRow]:
        store: Any = open_store(load_config(cfg).storage_url)
        await store.open()
        try:
            return list(await store.list_deliveries(DeliveryQuery()))
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("body", "rule_name", "code", "says", "state", "params"),
    [
        (
            FIXED,
            "notify",
            0,
            r"^(dlv_\w+) re-rendered under the rules in force \(version \w{12}\) and queued again; ",
            "queued",
            {"title": "API Load Test", "body": "API Load Test finished"},
        ),
        (
            BROKEN,
            "notify",
            1,
            rf"^cannot retry (dlv_\w+): it has no parameters \(it died with: {re.escape(DIED)}\) and its action "
            rf"still fails under the rules in force \(version \w{{12}}\): {re.escape(FAILS)}$",
            "dead",
            None,
        ),
        (
            FIXED,
            "renamed",
            1,
            r"^cannot retry (dlv_\w+): .* and rule 'notify' is not in the rules in force \(version \w{12}\); "
            r"replay the event instead$",
            "dead",
            None,
        ),
    ],
    ids=["fixed-rule-rerenders", "still-broken-refused", "rule-gone-refused"],
)
def test_retry_a_delivery_that_died_on_its_template(
    dead: tuple[Path, str],
    body: str,
    rule_name: str,
    code: int,
    says: str,
    state: str,
    params: dict[str, str] | None,
) -> None:
    cfg, delivery_id = dead
    write_rule(cfg.parent, body, rule_name)
    got, out, err = cli("retry", delivery_id, "--config", str(cfg))
    assert got == code, (out, err)
    m = re.match(says, out if code == 0 else err)
    assert m is not None, (out, err)
    assert m.group(1) == delivery_id
    row = deliveries(cfg)[0]
    assert (row.state.value, row.params) == (state, params)


def test_retry_refuses_what_is_not_dead_and_what_does_not_exist(dead: tuple[Path, str]) -> None:
    cfg, delivery_id = dead
    write_rule(cfg.parent, FIXED)
    assert cli("retry", delivery_id, "--config", str(cfg))[0] == 0
    assert cli("retry", delivery_id, "--config", str(cfg))[1:] == (
        "",
        f"delivery {delivery_id} is queued; only dead, suppressed or silenced deliveries can be retried\n",
    )
    assert cli("retry", "dlv_nope", "--config", str(cfg))[::2] == (1, "no delivery dlv_nope\n")


def test_deliveries_listing_says_why_each_dead_delivery_died(dead: tuple[Path, str]) -> None:
    cfg, delivery_id = dead
    code, out, _ = cli("deliveries", "--state", "dead", "--config", str(cfg))
    assert code == 0
    assert out.splitlines()[0].startswith(f"{delivery_id}  dead ")
    assert out.splitlines()[1] == f"    died: {DIED}"


def test_the_api_and_the_page_retry_the_same_way(dead: tuple[Path, str]) -> None:
    cfg, delivery_id = dead
    config = load_config(cfg)
    app = create_app(config, deliver=False)
    with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as client:
        r = client.post(f"/api/deliveries/{delivery_id}/retry")
        assert r.status_code == 409
        assert r.json()["code"] == "cannot_render"
        assert "its action still fails under the rules in force" in r.json()["error"]
        page = client.get("/ui/deliveries?state=dead").text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "next": "/ui/deliveries?state=dead"}
        r = client.post(f"/ui/deliveries/{delivery_id}/retry", data=form, follow_redirects=False)
        assert (r.status_code, "done=cannot_render" in r.headers["location"]) == (303, True)
        assert "cannot be retried: it has no parameters" in client.get(r.headers["location"]).text
        write_rule(cfg.parent, FIXED)
        app.hookyard.router.swap(load_rules_for(config))  # what a reload does
        r = client.post(f"/ui/deliveries/{delivery_id}/retry", data=form, follow_redirects=False)
        assert (r.status_code, "done=rerendered" in r.headers["location"]) == (303, True)
    assert deliveries(cfg)[0].params == {"title": "API Load Test", "body": "API Load Test finished"}
