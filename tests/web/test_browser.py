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
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.helpers import Daemon, assert_no_secret, fusillade_body, wait_for
from tests.servers import Received, RecordingServer, Reply
from tests.web.conftest import ENV, SECRETS, signed, write_config

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


# One Chromium for the module: launching it is the slow part, and each test's
# browser.new_page() opens its own context (no cookies or storage shared between tests).
@pytest.fixture(scope="module")
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
        # The comparison the completed run asks for comes back as a derived event: waited for, so
        # that the failed run, posted next, is the newest row whatever the machine's speed.
        wait_for(lambda: len(httpx.get(f"{daemon.url}/api/events", timeout=5).json()["events"]) == 2 or None)
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
            "runs": "/ui/runs",
            "run": "/ui/runs/" + httpx.get(f"{daemon.url}/api/runs?limit=1", timeout=5).json()["runs"][0]["key"],
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


# The highlighted point's pixels: Chart.js draws this run's point in the page's accent blue.
HIGHLIGHT_PIXEL = """(canvas) => {
  const chart = Chart.getChart(canvas);
  const meta = chart.getDatasetMeta(0);
  const trend = JSON.parse(document.getElementById("trend-data").textContent);
  const index = trend.points.findIndex((p) => p.current);
  const point = meta.data[index];
  const ratio = chart.currentDevicePixelRatio;
  const ctx = canvas.getContext("2d");
  const [r, g, b, a] = ctx.getImageData(Math.round(point.x * ratio), Math.round(point.y * ratio), 1, 1).data;
  const all = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < all.length; i += 4) { if (all[i] !== 0) { painted += 1; } }
  const radii = meta.data.map((p) => p.options.radius);
  return {index, rgba: [r, g, b, a], painted, size: canvas.width * canvas.height, radii};
}"""


def test_runs_list_and_run_page_with_its_trend_chart(tmp_path: Path, browser: Browser, daemons: list[Daemon]) -> None:
    """The runs list, then one run: its timeline and the chart of its test drawn by the vendored
    Chart.js under the page's CSP, this run's point highlighted."""
    from tests.web.runs_stack import RUNS_SECRETS, payload, send, write_runs_config

    with RecordingServer(default=Reply(201, {"state": "success"})) as github, RecordingServer() as hook:
        daemon = Daemon(write_runs_config(tmp_path, gh_url=github.url, hook_url=hook.url)).start()
        daemons.append(daemon)
        p95s = [410, 395, 640, 420, 405, 415]
        for n, p95 in enumerate(p95s, start=1):
            send(daemon.url, payload(f"nightly-{n}", "started", minute=n))
            send(daemon.url, payload(f"nightly-{n}", minute=n, p95=p95, outcome="failed" if p95 > 500 else "passed"))
        send(daemon.url, payload("suite-1", name="Smoke suite", minute=9, total=40, passed=38, failed=2))

        def all_sent() -> bool:  # 6 pending + 7 final statuses, 7 notifications, each recorded as succeeded
            done = httpx.get(f"{daemon.url}/api/deliveries?state=succeeded&limit=100", timeout=5).json()
            return len(done["deliveries"]) == 20 and len(github.received) == 13 and len(hook.received) == 7

        wait_for(all_sent)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []

        def console(m: ConsoleMessage) -> None:
            # The browser asks for /favicon.ico on its own (there is none); the readback warning is this test's.
            favicon = m.location["url"].endswith("/favicon.ico")
            if m.type in ("error", "warning") and not favicon and not m.text.startswith("Canvas2D: Multiple readback"):
                problems.append(f"{m.text} {m.location}")

        page.on("console", console)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

        page.goto(f"{daemon.url}/ui")
        page.get_by_role("link", name="Runs").click()
        rows = page.locator("tr.run-row")
        expect(rows).to_have_count(7)
        expect(rows.first).to_contain_text("Smoke suite")
        expect(rows.first.locator("td.headline")).to_have_text("95% passed · 2 failed")
        third = rows.filter(has_text="nightly-3")
        expect(third.locator("td.status")).to_contain_text("failed")
        expect(third.locator("td.status")).to_contain_text("broken")
        expect(third.locator("td.headline")).to_have_text("p95 640 ms")
        expect(third.locator("td.deliveries")).to_have_text("succeeded 3")  # pending, failure, notification
        expect(third.locator("a.commit")).to_have_attribute("href", re.compile(r"^https://github\.com/acme/shop/"))
        shoot(page, tmp_path / "runs.png")
        seen = [page.content()]

        page.get_by_role("link", name="Checkout").nth(1).click()  # nightly-5, the second newest of the test
        expect(page.locator("main h1")).to_contain_text("Checkout")
        expect(page.locator(".run-facts")).to_contain_text("nightly-5")
        expect(page.locator("li.timeline-event")).to_have_count(2)
        expect(page.locator("table.statuses tr.status-row")).to_have_count(2)
        canvas = page.locator("canvas#trend-chart")
        expect(canvas).to_have_attribute("data-rendered", "5")  # nightly-1 … nightly-5: the runs up to this one
        assert page.evaluate("typeof Chart") == "function"
        drawn = canvas.evaluate(HIGHLIGHT_PIXEL)
        assert drawn["index"] == 4 and drawn["radii"] == [3, 3, 3, 3, 8], drawn
        assert drawn["painted"] > drawn["size"] // 100, drawn  # axes, line and points, not a blank canvas
        r, g, b, a = drawn["rgba"]
        assert a > 200 and b > 150 and r < 80 and g < 160, drawn  # the highlight blue (#0969da), not green/red
        shot = shoot(page, tmp_path / "run.png")
        seen.append(page.content())
        assert not problems, problems  # no CSP refusal, no script error, nothing missing
        assert_no_secret([*seen, daemon.logs()], RUNS_SECRETS)
        if os.environ.get("HOOKYARD_SCREENSHOT_DIR"):  # to look at the pages by hand
            (Path(os.environ["HOOKYARD_SCREENSHOT_DIR"]) / "run.png").write_bytes(shot)
