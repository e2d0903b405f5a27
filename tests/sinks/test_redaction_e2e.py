"""No secret anywhere, end to end: a real daemon whose sink URLs carry credentials from the
environment (userinfo, a secret path, a secret query value), deliveries that fail against
real local servers echoing what they got, then the attempt rows, the daemon log, the API,
the page and the CLI output are searched for every secret in every shape."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.delivery.conftest import WEBHOOK_SECRET, Stack
from tests.helpers import Daemon, assert_no_secret, fusillade_body
from tests.servers import Received, RecordingServer, Reply

PASSWORD = "pw-e2e-userinfo-31ad"
PATH_TOKEN = "whk_e2e_path_token_8c1f"
NOTIFY_TOKEN = "ntf_e2e_path_token_2b7e"
QUERY_KEY = "qk_e2e_query_key_6d0a"
RULE_KEY = "rule_literal_key_9e4c"  # written in the rule file: stored to be sent, never shown
SECRETS = [PASSWORD, PATH_TOKEN, NOTIFY_TOKEN, QUERY_KEY, WEBHOOK_SECRET]

RULE = """
rules:
  - name: everything
    match: {type: "run.*"}
    actions:
      - sink: hook
        request:
          path: "/run/{{ event.subject }}"
          query: {api_token: "RULE_KEY", page: "1"}
      - sink: chat
        title: "{{ event.data.run.name }}"
        body: "failed"
""".replace("RULE_KEY", RULE_KEY)

SINKS = """  - id: hook
    kind: http
    base_url: '${HOOK_URL}'
    query: {key: '${HOOK_QUERY_KEY}'}
    allow_private: true
    max_attempts: 1
  - id: chat
    kind: apprise
    urls: ['${NOTIFY_URL}']
    max_attempts: 1
"""


def echo(got: Received) -> Reply:
    """A destination that rejects the call and echoes the credential-bearing parts back."""
    return Reply(403, f"forbidden: {got.path} key={got.query.get('key')} auth={got.headers.get('authorization')}")


def test_no_secret_in_attempts_log_api_page_or_cli(tmp_path: Path, daemons: list[Daemon]) -> None:
    stack = Stack(tmp_path, daemons)
    with RecordingServer(responder=echo) as server:
        hook_url = f"http://hy-sender-7c1:{PASSWORD}@127.0.0.1:{server.port}/hooks/{PATH_TOKEN}"
        stack.env |= {
            "HOOK_URL": hook_url,
            "HOOK_QUERY_KEY": QUERY_KEY,
            "NOTIFY_URL": f"json://bot:{PASSWORD}@127.0.0.1:{server.port}/notify/{NOTIFY_TOKEN}",
        }
        stack.write(sinks=SINKS, rules=[stack.rule_file("r.yaml", RULE)])
        daemon = stack.start()
        root = stack.post(fusillade_body("test.failed", "run-secret", "Secret run"))
        deliveries = stack.settled("event_id = ?", root)
        # The calls really carried the credentials (so the redaction is what hides them).
        hook = next(r for r in server.received if r.path.startswith("/hooks/"))
        assert hook.path == f"/hooks/{PATH_TOKEN}/run/run-secret"
        assert hook.query == {"api_token": RULE_KEY, "page": "1", "key": QUERY_KEY}
        assert hook.headers["authorization"].startswith("Basic ")
        assert any(r.path == f"/notify/{NOTIFY_TOKEN}" for r in server.received)

        assert sorted(d["state"] for d in deliveries) == ["dead", "dead"]
        rows = [repr(r) for r in stack.query("SELECT * FROM attempts")]
        rows += [repr((d["last_error"], d["state"])) for d in deliveries]
        assert len(rows) >= 4
        reasons = " ".join(rows)
        assert "127.0.0.1" in reasons and "HTTP 403" in reasons  # the log still says what happened

        api = httpx.get(f"{daemon.url}/api/deliveries?limit=100", timeout=10)
        page = httpx.get(f"{daemon.url}/ui/deliveries", timeout=10)
        detail = httpx.get(f"{daemon.url}/api/events/{root}", timeout=10)
        assert api.status_code == page.status_code == detail.status_code == 200
        shown = api.json()["deliveries"]
        hook_params = next(d["params"] for d in shown if d["sink"] == "hook")
        assert hook_params["request"]["query"] == {"api_token": "<redacted>", "page": "1"}

        outputs = [api.text, page.text, detail.text]
        for args in (("deliveries", "--json", "--limit", "100"), ("deliveries", "--limit", "100")):
            done = stack.cli(*args)
            assert done.returncode == 0, done.stderr
            outputs += [done.stdout, done.stderr]
        assert RULE_KEY in json.dumps(stack.deliveries()[0]["params"]) + json.dumps(stack.deliveries()[1]["params"])

    assert_no_secret([*rows, *outputs, stack.logs()], [*SECRETS, hook_url])
    assert_no_secret(outputs, [RULE_KEY])
