"""The pages (/ui) rendered by the real app on a real store: what a person sees and what the buttons do."""

from __future__ import annotations

import html
import re

import pytest

from tests.helpers import assert_no_secret
from tests.web.conftest import SECRETS, Bench
from tests.web.test_auth import csrf_of


def rows(page: str, css_class: str) -> list[str]:
    """Each row of that class, up to the next one (rows can hold a nested attempt table)."""
    return page.split(f'<tr class="{css_class}"')[1:]


def event_ids(page: str) -> list[str]:
    row = r'<tr class="event-row">\s*<td[^>]*>.*?</td>\s*<td[^>]*><a class="mono id" href="/ui/events/([^"]+)"'
    return re.findall(row, page, re.S)


def test_event_list_newest_first_with_filters_search_and_paging(bench: Bench) -> None:
    ids = [bench.post_event("test.failed" if i % 2 else "test.completed", f"run-{i}") for i in range(5)]
    page = bench.get("/ui").text
    assert event_ids(page) == list(reversed(ids))
    assert "run.completed" in page and "compare-to-baseline" in page
    assert event_ids(bench.get("/ui?type=run.failed").text) == [ids[3], ids[1]]
    assert event_ids(bench.get("/ui?q=RUN-4").text) == [ids[4]]
    assert event_ids(bench.get(f"/ui?q={ids[2]}").text) == [ids[2]]
    assert "No events match these filters." in bench.get("/ui?source=hook").text

    first = bench.get("/ui?limit=2").text
    assert event_ids(first) == [ids[4], ids[3]]
    older = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', first).group(1))  # type: ignore[union-attr]
    assert older == f"/ui?limit=2&before={ids[3]}"
    second = bench.get(older).text
    assert event_ids(second) == [ids[2], ids[1]]
    assert 'href="/ui?limit=2">« Newest</a>' in second
    assert_no_secret(bench.seen, SECRETS)


def test_event_page_shows_everything_and_escapes(bench: Bench) -> None:
    evil = "<script>alert(1)</script>"
    event = bench.post_event("test.failed", evil)
    (dlv,) = bench.delivery_ids(event)
    bench.kill(dlv, reason="http 404: <b>nope</b>")
    page = bench.get(f"/ui/events/{event}").text
    assert "<script>" not in page and "<b>nope" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http 404: &lt;b&gt;nope&lt;/b&gt;" in page
    for expected in (
        event,
        dlv,
        "notify-failed",
        bench.hy.router.ruleset.version,  # type: ignore[union-attr]
        '<span class="badge state-dead">dead</span>',
        "x-fusillade-signature",  # stored headers
        "&#34;platform_event&#34;: &#34;test.failed&#34;",  # the envelope, pretty-printed
        "HTTP 404",  # the attempt log
        f'action="/ui/deliveries/{dlv}/retry"',
        f'href="/ui/events/{event}/replay"',  # Replay asks first
    ):
        assert expected in page, expected
    (attempt,) = rows(page, "attempt")
    assert "12.5 ms" in attempt
    assert_no_secret(bench.seen, SECRETS)


def test_retry_and_replay_buttons_redirect_back_with_a_notice(bench: Bench) -> None:
    event = bench.post_event("test.failed", "run-r")
    (dlv,) = bench.delivery_ids(event)
    bench.kill(dlv)
    dead_view = bench.get("/ui/deliveries?state=dead").text
    (row,) = rows(dead_view, "delivery-row")
    assert dlv in row and "Retry" in row and "http 404: no such endpoint" in row
    csrf = csrf_of(dead_view)
    form = {"csrf": csrf, "next": "/ui/deliveries?state=dead"}
    r = bench.post(f"/ui/deliveries/{dlv}/retry", data=form, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/ui/deliveries?state=dead&done=retried&id={dlv}")
    after = bench.get(r.headers["location"]).text
    assert f"Delivery {dlv} is queued again" in after and "No dead deliveries." in after
    assert bench.get(f"/api/deliveries/{dlv}").json()["state"] == "queued"
    # Pressing it again: nothing happens, and the page says so.
    r = bench.post(f"/ui/deliveries/{dlv}/retry", data=form, follow_redirects=False)
    assert r.headers["location"] == f"/ui/deliveries?state=dead&done=not_dead&id={dlv}"

    r = bench.post(f"/ui/events/{event}/replay", data={"csrf": csrf, "next": f"/ui/events/{event}"})
    assert r.status_code == 200 and "Event replayed under the current rules: 1 new deliveries." in r.text
    assert len(rows(r.text, "attempt")) == 1 and r.text.count('class="delivery"') == 2


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("https://evil.example/", "/ui/deliveries?state=dead&done=retried&id={dlv}"),
        ("//evil.example/ui", "/ui/deliveries?state=dead&done=retried&id={dlv}"),
        ("/ui\\@evil.example", "/ui/deliveries?state=dead&done=retried&id={dlv}"),
        ("/elsewhere", "/ui/deliveries?state=dead&done=retried&id={dlv}"),
        ("/ui/events/evt_1?x=1#dlv_1", "/ui/events/evt_1?x=1&done=retried&id={dlv}#dlv_1"),
    ],
)
def test_redirects_stay_inside_the_ui(bench: Bench, next_value: str, location: str) -> None:
    event = bench.post_event("test.failed", "run-n")
    (dlv,) = bench.delivery_ids(event)
    bench.kill(dlv)
    csrf = csrf_of(bench.get(f"/ui/events/{event}").text)
    r = bench.post(f"/ui/deliveries/{dlv}/retry", data={"csrf": csrf, "next": next_value}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, location.format(dlv=dlv))


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/ui/events/evt_nope", 404, "no event evt_nope"),
        ("/ui?limit=0", 400, "limit must be a whole number"),
        ("/ui?since=soon", 400, "since must be seconds since the epoch"),
        ("/ui/deliveries?state=lost", 400, "state must be one of"),
    ],
)
def test_page_errors_are_short_html_pages(bench: Bench, path: str, status: int, text: str) -> None:
    r = bench.get(path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert text in r.text


def test_post_to_unknown_things_is_a_404_page(bench: Bench) -> None:
    event = bench.post_event("test.failed", "run-u")
    csrf = csrf_of(bench.get(f"/ui/events/{event}/replay").text)
    for path in ("/ui/deliveries/dlv_nope/retry", "/ui/events/evt_nope/replay"):
        r = bench.post(path, data={"csrf": csrf})
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]
