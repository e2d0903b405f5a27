"""A person in headless Chromium silences a noisy failing run from its event page, against a
real ``hookyard serve``: the next such event's delivery is silenced (never sent) and shows the
silence; expiring it on the page lets the next one through."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.helpers import Daemon, assert_no_secret, wait_for
from tests.servers import RecordingServer, Reply
from tests.web.conftest import ENV, SECRETS, write_config
from tests.web.test_browser import browser, post, shoot  # noqa: F401


def _state(daemon: Daemon, event_id: str) -> str | None:
    found = httpx.get(f"{daemon.url}/api/events/{event_id}", timeout=5).json()["deliveries"]
    state = found[0]["state"] if found else None
    return state if state in ("succeeded", "silenced", "dead") else None


def test_silence_events_like_this(tmp_path: Path, browser: Browser, daemons: list[Daemon]) -> None:  # noqa: F811
    with RecordingServer(default=Reply(200, {"ok": True})) as hook:
        daemon = Daemon(write_config(tmp_path, hook_url=hook.url), env=ENV).start()
        daemons.append(daemon)
        first = post(daemon, "test.failed", "nightly-checkout")
        assert wait_for(lambda: _state(daemon, first)) == "succeeded"

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{daemon.url}/ui/events/{first}")
        page.get_by_role("link", name="Silence events like this…").click()
        matchers = page.locator("textarea[name=matchers]")
        expect(matchers).to_have_value("source=fusillade\ntype=run.failed\ndata.run.name=API Load Test")
        page.locator("input[name=comment]").fill("perf env down")
        page.get_by_role("button", name="Create silence").click()
        expect(page.locator(".notice")).to_contain_text("created")
        row = page.locator("tr.silence-row")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("data.run.name=API Load Test")
        expect(row.locator(".badge")).to_have_text("active")
        silence_id = row.get_attribute("id")
        shoot(page, tmp_path / "silences.png")
        seen = [page.content()]

        # The daemon's dispatcher applies it: the next failure is silenced, shown with the silence.
        second = post(daemon, "test.failed", "nightly-checkout-2")
        assert wait_for(lambda: _state(daemon, second)) == "silenced"
        page.goto(f"{daemon.url}/ui/events/{second}")
        delivery = page.locator("section.delivery")
        expect(delivery.locator(".badge").first).to_have_text("silenced")
        expect(delivery.locator(".quieted a")).to_have_text(str(silence_id))
        expect(delivery).to_contain_text("perf env down")
        seen.append(page.content())

        page.goto(f"{daemon.url}/ui/silences")
        page.get_by_role("button", name="Expire").click()
        expect(page.locator(".notice")).to_contain_text("expired")
        expect(page.locator("tr.silence-row .badge")).to_have_text("expired")
        third = post(daemon, "test.failed", "nightly-checkout-3")
        assert wait_for(lambda: _state(daemon, third)) == "succeeded"
        assert sorted(r.json["run"] for r in hook.received) == ["nightly-checkout", "nightly-checkout-3"]
        assert_no_secret([*seen, daemon.logs()], SECRETS)
