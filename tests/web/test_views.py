"""The pages (/ui) rendered by the real app on a real store: what a person sees and what the buttons do."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from receiver.store.base import AttemptRow, DeliveryQuery, DeliveryState, Outcome
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


def seed_runs(bench: Bench) -> dict[str, str]:
    """A failed run whose notification died, a failed run still queued, a passed run; name → event id."""
    ids = {
        "dead": bench.post_event("test.failed", "run-dead"),
        "queued": bench.post_event("test.failed", "run-queued"),
        "passed": bench.post_event("test.completed", "run-passed"),
    }
    (dlv,) = bench.delivery_ids(ids["dead"])
    bench.kill(dlv, reason="http 404: no such endpoint")
    return ids


def test_event_rows_show_run_name_outcome_and_delivery_states(bench: Bench) -> None:
    ids = seed_runs(bench)
    page = bench.get("/ui").text
    by_id = {event_id: row for row in rows(page, "event-row") for event_id in ids.values() if event_id in row}
    assert set(by_id) == set(ids.values())
    dead, queued, passed = by_id[ids["dead"]], by_id[ids["queued"]], by_id[ids["passed"]]
    assert "API Load Test" in dead  # data.run.name
    assert '<span class="badge outcome-errored">errored</span>' in dead  # Fusillade: test.failed errored
    assert '<span class="badge outcome-passed">passed</span>' in passed
    assert ">dead 1</span>" in dead and ">queued 1</span>" in queued and ">queued 1</span>" in passed


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=run.*", ["passed", "queued", "dead"]),
        ("type=run.f*", ["queued", "dead"]),
        ("outcome=errored", ["queued", "dead"]),
        ("outcome=failed", []),
        ("sink=fus", ["passed"]),
        ("rule=notify-failed", ["queued", "dead"]),
        ("delivery=dead", ["dead"]),
        ("delivery=queued&outcome=errored", ["queued"]),
        ("delivery=none", []),
        # Which failed runs notified nobody?
        ("outcome=errored&delivery=not_succeeded", ["queued", "dead"]),
        ("outcome=errored&delivery=dead&sink=hook", ["dead"]),
        ("outcome=errored&delivery=dead&sink=fus", []),
    ],
)
def test_event_filters(bench: Bench, query: str, expected: list[str]) -> None:
    ids = seed_runs(bench)
    page = bench.get(f"/ui?{query}")
    assert page.status_code == 200
    assert event_ids(page.text) == [ids[name] for name in expected]
    api = bench.get(f"/api/events?{query}").json()["events"]
    assert [e["id"] for e in api] == [ids[name] for name in expected]


def test_bad_filter_values_are_shown_by_their_field_keeping_the_others(bench: Bench) -> None:
    ids = seed_runs(bench)
    r = bench.get("/ui?type=run.failed&outcome=great&since=soon&delivery=lost&sink=hook")
    assert r.status_code == 400
    page = r.text
    assert event_ids(page) == [ids["queued"], ids["dead"]]  # type and sink still apply
    for field, message in (
        ("outcome", "outcome must be one of: passed, failed"),
        ("since", "since must be seconds since the epoch"),
        ("delivery", "delivery must be one of: queued"),
    ):
        found = re.search(rf'<span class="field-error" id="error-{field}">([^<]+)</span>', page)
        assert found and message in found.group(1), field
    assert 'name="since" value="soon" placeholder' in page  # what was typed stays, to fix it
    assert 'id="error-type"' not in page and 'id="error-sink"' not in page
    assert bench.get("/api/events?outcome=great").json()["code"] == "bad_outcome"


def test_times_are_relative_with_the_exact_time_on_hover(bench: Bench) -> None:
    event = bench.post_event("test.failed", "run-t")
    received = bench.get(f"/api/events/{event}").json()["event"]["received_at"]
    page = bench.get("/ui").text
    found = re.search(rf'<time datetime="{received}" title="{received}">([^<]+)</time>', page)
    assert found and re.fullmatch(r"just now|\d+ s ago", found.group(1))


def test_delivery_page(bench: Bench) -> None:
    ids = seed_runs(bench)
    (dlv,) = bench.delivery_ids(ids["dead"])
    r = bench.get(f"/ui/deliveries/{dlv}")
    assert r.status_code == 200
    page = r.text
    for expected in (
        '<span class="badge state-dead">dead</span>',
        f'action="/ui/deliveries/{dlv}/retry"',
        f'href="/ui/events/{ids["dead"]}#{dlv}"',
        "why it died",
        "http 404: no such endpoint",
        "HTTP 404",  # the attempt log
        "&#34;path&#34;: &#34;/failed&#34;",  # the params
    ):
        assert expected in page, expected
    assert f'href="/ui/deliveries/{dlv}"' in bench.get("/ui/deliveries").text  # lists link to it
    assert bench.get("/ui/deliveries/dlv_nope").status_code == 404
    assert_no_secret(bench.seen, SECRETS)


def test_replay_asks_first(bench: Bench) -> None:
    event = bench.post_event("test.failed", "run-c")
    page = bench.get(f"/ui/events/{event}/replay").text
    assert "It would queue <strong>1</strong> delivery now" in page and "notify-failed[0]" in page
    assert f'action="/ui/events/{event}/replay"' in page and "Replay now" in page
    assert len(bench.delivery_ids(event)) == 1  # asking queued nothing
    r = bench.post(f"/ui/events/{event}/replay", data={"csrf": csrf_of(page), "next": f"/ui/events/{event}"})
    assert "Event replayed under the current rules: 1 new deliveries." in r.text
    assert len(bench.delivery_ids(event)) == 2
    assert bench.get("/ui/events/evt_nope/replay").status_code == 404


def test_dead_letters_retry_all_of_a_sink_and_say_why_each_died(bench: Bench) -> None:
    ids = seed_runs(bench)
    (second,) = bench.delivery_ids(ids["queued"])
    store: Any = bench.hy.store
    now = bench.hy.clock()
    # Dead with no delivery-level error: the reason is the last attempt's.
    bench.call(store.claim_due, now + 3600, 10, 60.0, "w")
    attempt = AttemptRow(second, 1, now, now, 3.0, "failed", 503, "http_503", "http 503: busy", None)
    assert bench.call(store.finish, second, "w", Outcome(attempt, DeliveryState.DEAD, None, None))
    for c in bench.call(store.list_deliveries, DeliveryQuery(state="in_progress")):
        bench.call(store.postpone, c.id, "w", now)
    dead_view = bench.get("/ui/deliveries?state=dead").text
    reasons = [re.findall(r'<td class="reason">([^<]*)</td>', row) for row in rows(dead_view, "delivery-row")]
    assert sorted(reasons) == [["http 404: no such endpoint"], ["http 503: busy"]]
    assert 'data-sink="hook">Retry all 2 → hook</button>' in dead_view
    r = bench.post("/ui/sinks/hook/retry-dead", data={"csrf": csrf_of(dead_view), "next": "/ui/deliveries?state=dead"})
    assert r.status_code == 200 and "2 dead deliveries to hook are queued again." in r.text
    assert "No dead deliveries." in r.text and "Retry all" not in r.text
    assert bench.get(f"/api/deliveries/{second}").json()["state"] == "queued"
    r = bench.post("/ui/sinks/nowhere/retry-dead", data={"csrf": csrf_of(dead_view)})
    assert r.status_code == 404


@pytest.mark.parametrize("path", ["/ui", "/ui/deliveries?state=dead"])
def test_lists_refresh_themselves_when_asked(bench: Bench, path: str) -> None:
    off = bench.get(path).text
    assert 'http-equiv="refresh"' not in off
    toggle = html.unescape(re.search(r'<a class="refresh" href="([^"]+)"', off).group(1))  # type: ignore[union-attr]
    assert "refresh=on" in toggle
    on = bench.get(toggle + "&done=retried&id=dlv_x").text
    refresh = re.search(r'<meta http-equiv="refresh" content="15; url=([^"]+)">', on)
    assert refresh and html.unescape(refresh.group(1)) == toggle  # the notice is not repeated
    assert "Auto-refresh: on" in on
