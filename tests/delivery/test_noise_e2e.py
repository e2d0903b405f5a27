"""Noise control with a real ``hookyard serve``: a silence added by the CLI (another process,
its own store connection) applies in the running daemon's dispatcher; repeat_interval
suppresses the same message of a later event and links the one that was sent."""

from __future__ import annotations

from tests.delivery.conftest import EVERY_RUN_RULES, Stack
from tests.helpers import fusillade_body
from tests.servers import RecordingServer, Reply

RULES = EVERY_RUN_RULES.replace('json: {run: "{{ event.subject }}"}', 'json: {name: "{{ event.data.run.name }}"}')


def test_cli_silence_and_repeat_interval_in_a_running_daemon(stack: Stack) -> None:
    with RecordingServer(default=Reply(200, {"ok": True})) as hook:
        sink = f"  - id: hook\n    kind: http\n    base_url: {hook.url}\n    allow_private: true\n"
        rules = stack.rule_file("r.yaml", RULES + "        repeat_interval: 1h\n")
        stack.write(sinks=sink, rules=[rules])
        stack.start()
        first = stack.post(fusillade_body("test.completed", "run-1", "Nightly API"))
        (sent,) = stack.settled("event_id = ?", first)
        assert sent["state"] == "succeeded", sent["last_error"]
        again = stack.post(fusillade_body("test.completed", "run-2", "Nightly API"))
        (held,) = stack.settled("event_id = ?", again)
        assert held["state"] == "suppressed" and f"sent by {sent['id']}" in held["last_error"]
        assert stack.query("SELECT quieted_by FROM deliveries WHERE id = ?", held["id"]) == [(sent["id"],)]

        done = stack.cli("silence", "add", "--match", "data.run.name=Smoke*", "--for", "1h", "--comment", "flaky env")
        assert done.returncode == 0, done.stderr
        silence_id = done.stdout.split()[0]
        # The daemon reads silences at most a second old; each event below is a new test name, so
        # nothing is suppressed: the first smoke runs may go out until it has, then all are silenced.
        states = []
        for i in range(40):
            event = stack.post(fusillade_body("test.completed", f"smoke-{i}", f"Smoke {i}"))
            (d,) = stack.settled("event_id = ?", event)
            states.append(d["state"])
            if d["state"] == "silenced":
                assert d["last_error"].startswith(f"silenced by {silence_id} until ")
                break
        assert states[-1] == "silenced", states
        other = stack.post(fusillade_body("test.completed", "run-3", "Checkout"))
        assert [d["state"] for d in stack.settled("event_id = ?", other)] == ["succeeded"]
        assert [r.json["name"] for r in hook.received] == [
            "Nightly API", *(f"Smoke {i}" for i in range(len(states) - 1)), "Checkout",
        ]  # fmt: skip
