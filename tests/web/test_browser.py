"""A person in a real browser: headless Chromium (Playwright) against a real ``hookyard serve``.

They open the event list, open a failed run, read its dead delivery and attempt log,
press Retry once the destination is back, and watch the delivery succeed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.helpers import Daemon, assert_no_secret, wait_for
from tests.servers import Received, RecordingServer, Reply
from tests.web.conftest import ENV, SECRETS, fusillade_body, signed, write_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Destination:
    """An HTTP endpoint that answers 404 until ``fix()``: its deliveries die, then can succeed."""

    def __init__(self) -> None:
        self.broken = True
        self.server = RecordingServer(self._answer)

    def _answer(self, got: Received) -> Reply:
        return Reply(404, "no such endpoint") if self.broken else Reply(200, {"ok": True})

    def fix(self) -> None:
        self.broken = False


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package `chromium` (apt-get install -y chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def post(daemon: Daemon, event: str, test_id: str) -> str:
    body = fusillade_body(event, test_id)
    r = httpx.post(f"{daemon.url}/hooks/fusillade", content=body, headers=signed(body), timeout=10)
    assert r.status_code == 202, r.text
    event_id: str = r.json()["event_id"]
    return event_id


def shoot(page: Page, path: Path) -> bytes:
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    return data


def test_read_the_log_and_retry_a_dead_delivery(tmp_path: Path, browser: Browser, daemons: list[Daemon]) -> None:
    hook = Destination()
    with hook.server, RecordingServer(default=Reply(200, {"regression": False})) as fus:
        config = write_config(tmp_path, hook_url=hook.server.url, fus_url=fus.url)
        daemon = Daemon(config, env=ENV).start()
        daemons.append(daemon)
        completed = post(daemon, "test.completed", "nightly-checkout")
        failed = post(daemon, "test.failed", "broken-script")

        def dead() -> list[dict[str, str]] | None:
            found = httpx.get(f"{daemon.url}/api/deliveries?state=dead", timeout=5).json()["deliveries"]
            return found if len(found) == 2 else None  # the failed run's, and the comparison's

        (dlv,) = [d["id"] for d in wait_for(dead) if d["event_id"] == failed]

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{daemon.url}/ui")
        expect(page.locator("tr.event-row")).to_have_count(3)  # the two runs and the derived comparison
        expect(page.locator("tr.event-row").first).to_contain_text("run.failed")
        expect(page.get_by_role("link", name=completed)).to_be_visible()
        expect(page.locator(".top .count")).to_have_text("2")  # dead letters in the header
        shoot(page, tmp_path / "events.png")
        seen = [page.content()]

        page.get_by_role("link", name=failed).click()
        expect(page).to_have_url(f"{daemon.url}/ui/events/{failed}")
        delivery = page.locator(f"section.delivery#{dlv}")
        expect(delivery.locator(".badge").first).to_have_text("dead")
        expect(delivery.locator("tr.attempt")).to_have_count(1)
        expect(delivery.locator("tr.attempt")).to_contain_text("HTTP 404")
        expect(page.locator("pre.envelope")).to_contain_text('"platform_event": "test.failed"')
        shoot(page, tmp_path / "event-dead.png")
        seen.append(page.content())

        hook.fix()
        delivery.get_by_role("button", name="Retry").click()
        expect(page.locator(".notice")).to_contain_text(f"Delivery {dlv} is queued again")

        def succeeded() -> bool:
            page.reload()
            return re.fullmatch("succeeded", delivery.locator(".badge").first.inner_text()) is not None

        wait_for(succeeded)
        attempts = delivery.locator("tr.attempt")
        expect(attempts).to_have_count(2)  # the log keeps the attempt that failed
        expect(attempts.nth(0)).to_contain_text("HTTP 404")
        expect(attempts.nth(1)).to_contain_text("HTTP 200")
        expect(delivery.locator("button.retry")).to_have_count(0)
        shot = shoot(page, tmp_path / "event-retried.png")
        seen.append(page.content())

        page.get_by_role("link", name="Dead letters").click()
        expect(page.locator("tr.delivery-row")).to_have_count(1)
        expect(page.locator("tr.delivery-row")).to_contain_text("notify-comparison")
        shoot(page, tmp_path / "dead-letters.png")
        seen.append(page.content())

        assert sorted(r.path for r in hook.server.received) == ["/compared", "/failed", "/failed"]
        assert_no_secret([*seen, daemon.logs()], SECRETS)
        if os.environ.get("HOOKYARD_SCREENSHOTS"):  # to look at the pages by hand
            Path(os.environ["HOOKYARD_SCREENSHOTS"]).write_bytes(shot)


WIDTHS = (1280, 1024)
LONG_REASON = "http 404: no such endpoint " + "(the destination answered with a long explanation) " * 3


def assert_fits(page: Page, width: int, where: str) -> None:
    """Nothing scrolls sideways, and every action button is inside the viewport."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{where} at {width} px scrolls sideways ({scroll_width} px wide)"
    buttons = page.locator("main button, main a.button")
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box is not None, f"{where}: button {i} is not rendered"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{where} at {width} px: button {i} at {box}"


def test_every_page_fits_at_1280_and_1024(tmp_path: Path, browser: Browser, daemons: list[Daemon]) -> None:
    """Long ids, long reasons and many deliveries: the lists and their buttons stay on screen."""
    with RecordingServer(default=Reply(404, LONG_REASON)) as dead_end:
        config = write_config(tmp_path, hook_url=dead_end.url, fus_url=dead_end.url)
        daemon = Daemon(config, env=ENV).start()
        daemons.append(daemon)
        failed = [post(daemon, "test.failed", f"broken-script-with-a-rather-long-name-{i}") for i in range(3)]
        post(daemon, "test.completed", "nightly-checkout")

        def dead() -> list[dict[str, str]] | None:
            found = httpx.get(f"{daemon.url}/api/deliveries?state=dead", timeout=5).json()["deliveries"]
            return found if len(found) == 4 else None

        dlv = wait_for(dead)[0]["id"]
        paths = {
            "events": "/ui",
            "events-filtered": "/ui?type=run.*&outcome=errored&delivery=not_succeeded&sink=hook&since=soon",
            "event": f"/ui/events/{failed[0]}",
            "replay": f"/ui/events/{failed[0]}/replay",
            "deliveries": "/ui/deliveries",
            "dead-letters": "/ui/deliveries?state=dead",
            "delivery": f"/ui/deliveries/{dlv}",
        }
        shots = Path(os.environ.get("HOOKYARD_SCREENSHOT_DIR") or tmp_path)
        seen = []
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 800})
            for name, path in paths.items():
                page.goto(daemon.url + path)
                expect(page.locator("main h1")).to_be_visible()
                assert_fits(page, width, name)
                shoot(page, shots / f"{name}-{width}.png")
                seen.append(page.content())
            expect(page.locator("main button.retry")).to_be_in_viewport()
            page.close()
        assert_no_secret([*seen, daemon.logs()], SECRETS)


def test_replay_and_retry_all_in_the_browser(tmp_path: Path, browser: Browser, daemons: list[Daemon]) -> None:
    hook = Destination()
    with hook.server, RecordingServer(default=Reply(200, {"regression": False})) as fus:
        config = write_config(tmp_path, hook_url=hook.server.url, fus_url=fus.url)
        daemon = Daemon(config, env=ENV).start()
        daemons.append(daemon)
        runs = [post(daemon, "test.failed", f"run-{i}") for i in range(2)]
        wait_for(lambda: len(httpx.get(f"{daemon.url}/api/deliveries?state=dead", timeout=5).json()["deliveries"]) == 2)

        page = browser.new_page(viewport={"width": 1024, "height": 800})
        page.goto(f"{daemon.url}/ui?outcome=errored&delivery=not_succeeded")
        expect(page.locator("tr.event-row")).to_have_count(2)  # failed runs that notified nobody
        page.goto(f"{daemon.url}/ui/events/{runs[0]}")
        page.get_by_role("link", name="Replay…").click()
        expect(page.locator("main")).to_contain_text("It would queue 1 delivery now")
        page.get_by_role("button", name="Replay now").click()
        expect(page.locator(".notice")).to_contain_text("Event replayed under the current rules: 1 new deliveries.")

        hook.fix()
        page.goto(f"{daemon.url}/ui/deliveries?state=dead")
        page.get_by_role("button", name=re.compile(r"Retry all \d+ → hook")).click()
        expect(page.locator(".notice")).to_contain_text("dead deliveries to hook are queued again.")
        succeeded = f"{daemon.url}/api/deliveries?state=succeeded"
        wait_for(lambda: len(httpx.get(succeeded, timeout=5).json()["deliveries"]) >= 3)
        assert sorted(r.path for r in hook.server.received).count("/failed") >= 5  # 2 died (2 tries each), then 3 sent
