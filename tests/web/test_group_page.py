"""A grouped action's delivery in the delivery log: its member count and links to its members,
on the page and in the API (receiver/web/service.py ``delivery``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from receiver.rules import load_rules_for
from tests.helpers import FakeClock, assert_no_secret
from tests.web.conftest import SECRETS, open_bench

GROUPED = """\
rules:
  - name: failed-burst
    match: {type: run.failed}
    actions:
      - sink: hook
        group: {wait: 30s}
        request: {method: POST, path: /failed, json: {runs: "{{ group.count }}"}}
"""


def test_a_grouped_delivery_shows_its_members(tmp_path: Path, secret_env: None) -> None:
    clock = FakeClock(time.time())
    with open_bench(tmp_path, clock=clock) as bench:
        hy: Any = bench.hy
        (tmp_path / "grouped.yaml").write_text(GROUPED)
        hy.router.swap(load_rules_for(hy.config, [tmp_path / "grouped.yaml"]))
        events = [bench.post_event("test.failed", f"run-{i}") for i in range(3)]
        assert bench.get("/api/deliveries").json()["deliveries"] == []  # collected, not sent yet
        clock.advance(30)
        assert bench.call(lambda: hy.dispatcher.groups.flush(force=True)) == 1
        [listed] = bench.get("/api/deliveries").json()["deliveries"]
        detail = bench.get(f"/api/deliveries/{listed['id']}").json()
        assert detail["event_id"] == events[-1]  # the latest member
        assert detail["params"]["request"]["json"] == {"runs": "3"}
        group = detail["group"]
        assert (group["count"], group["key"], group["events"]) == (3, [], events)
        page = bench.get(f"/ui/deliveries/{listed['id']}").text
        assert "3 events sent as one message" in page
        for event_id in events:
            assert f'<a class="mono" href="/ui/events/{event_id}">{event_id}</a>' in page
        # An ordinary delivery has no group.
        assert listed.get("group") is None
        assert_no_secret(bench.seen, SECRETS)
