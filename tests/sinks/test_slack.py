"""Slack text injection (issue #10, item 9): values are escaped, the rule's own markup works.

The action is rendered as the router renders it (real sink models) and sent by the real
``apprise`` sink to a local server playing Slack's incoming webhook.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.rules import load_rules, render_action
from receiver.sinks import SINKS
from receiver.sinks.base import SendContext
from receiver.sinks.client import HttpClient
from receiver.sinks.slack import escape, unescape
from tests.servers import RecordingServer, Reply
from tests.sinks.actions import send

pytestmark = pytest.mark.anyio

HOOK = "https://hooks.slack.com/services/T0AAAA/B0BBBB/xoxSECRETtokenC0123"

ACTION = {
    "sink": "chat",
    "title": "<!here> {{ event.data.run.name }} failed",
    "body": "<https://app.example/runs/{{ event.subject }}|open the run> · reported by {{ event.data.bug.by }}",
}


def render(name: str, by: str = "qa-bot") -> tuple[dict[str, Any], dict[str, Any]]:
    data = {"run": {"name": name}, "bug": {"by": by}}
    event = {"id": "evt_1", "type": "bug.reported", "subject": "r-1", "data": data}
    text = yaml.safe_dump({"rules": [{"name": "r", "actions": [ACTION]}]})
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "r.yaml").write_text(text, encoding="utf-8")
        [planned] = load_rules([tmp], {"chat": SINKS["apprise"].action}).plan(event)
    return render_action(planned, event), event


def sink(client: HttpClient, server: RecordingServer, urls: list[str]) -> Any:
    spec = SINKS["apprise"]
    config = spec.config.model_validate({"urls": urls, "slack_base_url": f"{server.url}/services"})
    return spec.create("chat", config, client)


INJECTIONS = [
    # (run name from the event, how Slack must receive it)
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here|here>", "&lt;!here|here&gt;"),
    ("<@U024BE7LH>", "&lt;@U024BE7LH&gt;"),
    ("<https://evil.example/login|Open the dashboard>", "&lt;https://evil.example/login|Open the dashboard&gt;"),
    ("Nightly & smoke <3", "Nightly &amp; smoke &lt;3"),
    ("already &lt;escaped&gt;", "already &amp;lt;escaped&amp;gt;"),
    ("API Load Test", "API Load Test"),
]


@pytest.mark.parametrize(("name", "shown"), INJECTIONS, ids=[n for n, _ in INJECTIONS])
async def test_values_are_escaped_and_the_authors_markup_is_kept(
    server: RecordingServer, client: HttpClient, name: str, shown: str
) -> None:
    server.default = Reply(200, "ok")
    params, event = render(name, by="<!everyone>")
    await send(sink(client, server, [HOOK]), params, SendContext("dlv_1", 1, event))
    (got,) = server.received
    assert got.json["text"] == (
        f"*<!here> {shown} failed*\n<https://app.example/runs/r-1|open the run> · reported by &lt;!everyone&gt;"
    )


async def test_other_services_get_the_values_as_they_were(server: RecordingServer, client: HttpClient) -> None:
    """The same action to Slack and to a JSON endpoint: only Slack's copy is escaped."""
    server.default = Reply(200, "ok")
    name = "<!channel> & <https://evil.example|x>"
    params, event = render(name)
    urls = [HOOK, f"json://127.0.0.1:{server.port}/notify"]
    await send(sink(client, server, urls), params, SendContext("dlv_1", 1, event))
    by_path = {r.path: r.json for r in server.received}
    assert by_path["/services/T0AAAA/B0BBBB/xoxSECRETtokenC0123"]["text"].startswith(
        "*<!here> &lt;!channel&gt; &amp; &lt;https://evil.example|x&gt; failed*\n"
    )
    assert by_path["/notify"]["title"] == f"<!here> {name} failed"
    assert by_path["/notify"]["message"].endswith("reported by qa-bot")


@pytest.mark.parametrize("text", ["", "a & b", "<!here>", "&amp;lt;", "&<>&&<<>>", "&lt;x&gt;"])
def test_unescape_inverts_escape(text: str) -> None:
    assert unescape(escape(text)) == text
