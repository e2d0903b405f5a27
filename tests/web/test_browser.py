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

from tests.helpers import Daemon, assert_no_secret
from tests.servers import Received, RecordingServer, Reply
from tests.web.conftest import ENV, SECRETS, fusillade_body, signed, wait_for, write_config

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
