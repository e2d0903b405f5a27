"""Hot reload against a running daemon: valid changes swap, invalid ones keep the old rules."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from receiver.app import create_app
from receiver.config import load_config
from tests.helpers import Daemon, stripe_header

SECRET = "whsec_reload_test"
RULE = """rules:
  - name: {name}
    match: {{type: run.completed}}
    actions: []
"""


def config(tmp_path: Path, watch: bool) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yaml").write_text(RULE.format(name="first"))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"server: {{watch_files: {str(watch).lower()}}}\nstorage: {{url: 'sqlite:///h.db'}}\nrules: [rules/]\n"
        f"sources:\n  - id: fus\n    kind: fusillade\n    secrets: ['{SECRET}']\n"
    )
    return cfg


def send(daemon: Daemon, n: int) -> str:
    body = json.dumps(
        {"event": "test.completed", "data": {"test_id": f"t{n}", "name": "x", "status": "completed"}}
    )
    r = httpx.post(
        daemon.url + "/hooks/fus",
        content=body,
        headers={"X-Fusillade-Signature": stripe_header(SECRET, body.encode(), int(time.time()))},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["event_id"])


def matched(daemon: Daemon, event_id: str) -> list[str]:
    """The rules that matched the stored event, as the daemon's API reports them."""
    r = httpx.get(f"{daemon.url}/api/events/{event_id}")
    assert r.status_code == 200, f"{event_id} not stored: {r.text}"
    return list(r.json()["event"]["matched_rules"])


def wait_rules(daemon: Daemon, pred, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def,type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rules = httpx.get(daemon.url + "/readyz").json()["checks"]["rules"]
        if pred(rules):
            return rules  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"readyz never showed the expected rules state: {rules}")


def test_file_changes_reload_and_bad_rules_keep_the_old_ones(tmp_path: Path, daemons: list[Daemon]) -> None:
    cfg = config(tmp_path, watch=True)
    daemon = Daemon(cfg).start()
    daemons.append(daemon)
    v1 = httpx.get(daemon.url + "/readyz").json()["checks"]["rules"]["version"]
    assert matched(daemon, send(daemon, 1)) == ["first"]

    (tmp_path / "rules" / "a.yaml").write_text(RULE.format(name="second"))
    rules = wait_rules(daemon, lambda r: r["version"] != v1)
    assert rules["status"] == "ok"
    assert matched(daemon, send(daemon, 2)) == ["second"]

    # A broken edit: the daemon keeps routing with "second" and says where the problem is.
    (tmp_path / "rules" / "a.yaml").write_text(
        "rules:\n  - name: third\n    match: {type: {lt: }}\n    actions: []\n"
    )
    rules = wait_rules(daemon, lambda r: r["status"] == "stale")
    assert f"{tmp_path}/rules/a.yaml:3: rules[0].match.type" in rules["error"]
    assert httpx.get(daemon.url + "/readyz").status_code == 200  # still ready: no webhook is refused
    assert matched(daemon, send(daemon, 3)) == ["second"]

    # A YAML tag the loader does not know: reported the same way, and the watcher lives on.
    (tmp_path / "rules" / "a.yaml").write_text(
        "rules:\n  - name: third\n    match: {type: !tag run.completed}\n    actions: []\n"
    )
    rules = wait_rules(daemon, lambda r: "!tag" in r.get("error", ""))
    assert f"{tmp_path}/rules/a.yaml:3: rules[0].match.type: invalid YAML: could not determine" in rules["error"]
    assert matched(daemon, send(daemon, 5)) == ["second"]

    (tmp_path / "rules" / "a.yaml").write_text(RULE.format(name="fourth"))
    rules = wait_rules(daemon, lambda r: r["status"] == "ok" and "error" not in r)
    assert matched(daemon, send(daemon, 4)) == ["fourth"]
    assert "reload refused" in daemon.logs()


def test_sighup_reloads_and_sink_changes_need_a_restart(tmp_path: Path, daemons: list[Daemon]) -> None:
    cfg = config(tmp_path, watch=False)
    daemon = Daemon(cfg).start()
    daemons.append(daemon)
    v1 = httpx.get(daemon.url + "/readyz").json()["checks"]["rules"]["version"]
    (tmp_path / "rules" / "a.yaml").write_text(RULE.format(name="after-hup"))
    time.sleep(0.3)
    assert httpx.get(daemon.url + "/readyz").json()["checks"]["rules"]["version"] == v1  # not watching
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    wait_rules(daemon, lambda r: r["version"] != v1)
    assert matched(daemon, send(daemon, 1)) == ["after-hup"]

    cfg.write_text(
        cfg.read_text() + "sinks:\n  - id: hook\n    kind: http\n    base_url: http://127.0.0.1:9\n"
    )
    daemon.proc.send_signal(signal.SIGHUP)
    rules = wait_rules(daemon, lambda r: r["status"] == "stale")
    assert "changes to sinks need a restart" in rules["error"]
    assert matched(daemon, send(daemon, 2)) == ["after-hup"]


def test_an_unforeseen_failure_while_reloading_keeps_the_old_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path, watch=False)
    loaded = load_config(cfg)
    app = create_app(loaded, deliver=False)
    reloader = app.reloader
    before = app.hookyard.router.ruleset

    def broken(config: object) -> None:
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr("receiver.reload.load_rules_for", broken)
    assert reloader.reload() is False
    assert app.hookyard.router.ruleset is before
    assert app.hookyard.reload_error == f"{cfg}: reload failed (RuntimeError); see the log"

    monkeypatch.undo()
    (tmp_path / "rules" / "a.yaml").write_text(RULE.format(name="second"))
    assert reloader.reload() is True
    assert app.hookyard.router.ruleset is not None
    assert [r.name for r in app.hookyard.router.ruleset.rules] == ["second"]
    assert app.hookyard.reload_error is None
