"""The runs pages (/ui/runs, /ui/runs/{key}) rendered by the real app on a real SQLite store,
from webhooks signed as the platform sends them."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import receiver.web
from tests.helpers import assert_no_secret
from tests.web.runs_stack import RUNS_SECRETS, SHA, RunsBench, open_runs_bench, payload


@pytest.fixture
def runs_bench(tmp_path: Path) -> Iterator[RunsBench]:
    with open_runs_bench(tmp_path) as b:
        yield b
        assert_no_secret(b.seen, RUNS_SECRETS)


# (run id, outcome, p95, branch, pr) in arrival order; each finishes a minute after the one before.
HISTORY = [
    ("r1", "passed", 400, "main", None),
    ("r2", "failed", 650, "main", None),
    ("r3", "passed", 410, "feature", 42),
    ("r4", "passed", 395, "main", None),
]


@pytest.fixture
def seeded(runs_bench: RunsBench) -> RunsBench:
    for n, (run_id, outcome, p95, branch, pr) in enumerate(HISTORY, start=1):
        runs_bench.send(payload(run_id, "started", minute=n, branch=branch, pr=pr))
        runs_bench.send(payload(run_id, minute=n, outcome=outcome, p95=p95, branch=branch, pr=pr))
    runs_bench.send(payload("suite", "done", name="Suite", minute=9, p95=None, total=20, passed=19, failed=1))
    return runs_bench


def page_run_ids(page: str) -> list[str]:
    return re.findall(r'<div class="mono muted small">([^<]+)</div></td>', page)


def row_of(page: str, run_id: str) -> str:
    (row,) = [r for r in page.split('<tr class="run-row"')[1:] if f'<div class="mono muted small">{run_id}<' in r]
    return row


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


@pytest.mark.parametrize(
    "query",
    ["", "?platform=generic", "?name=Checkout", "?name=Suite", "?branch=main", "?branch=feature", "?pr=42",
     "?outcome=failed", "?outcome=passed&branch=main", "?transition=broken", "?transition=fixed", "?name=nope"],
)  # fmt: skip
def test_list_filters_are_the_apis(seeded: RunsBench, query: str) -> None:
    """The page and /api/runs parse the same parameters with one function and list the same runs."""
    r = seeded.get("/ui/runs" + query)
    assert r.status_code == 200
    expected = [run["run_id"] for run in seeded.runs(query)]
    assert page_run_ids(r.text) == expected
    if not expected:
        assert "No runs match these filters." in r.text
    for name, value in re.findall(r"[?&](\w+)=(\w+)", query):  # the form keeps what was asked
        assert re.search(rf'name="{name}" value="{value}"|<option value="{value}" selected>', r.text)


def test_each_row_says_what_happened_and_what_was_notified(seeded: RunsBench) -> None:
    page = seeded.get("/ui/runs").text
    assert page_run_ids(page) == ["suite", "r4", "r3", "r2", "r1"]
    assert '<a href="/ui/runs" class="active">Runs</a>' in page  # in the navigation
    r2 = row_of(page, "r2")
    key = seeded.runs("?transition=broken")[0]["key"]
    assert f'href="/ui/runs/{key}"' in r2
    assert f'href="https://github.com/acme/shop/commit/{SHA}"' in r2 and ">0123456<" in r2
    # started → a pending status; completed → a status and a notification: 3 deliveries, all queued
    cells = re.sub(r" \d+ \w+ ago ", " ", text("<tr" + r2))  # the finish time is relative to now
    assert cells == "Checkout r2 generic 0123456 main failed broken 1 min 1 s p95 650 ms queued 3"
    assert '<span class="badge state-queued" title="3 queued">queued 3</span>' in r2
    r3 = row_of(page, "r3")
    assert '<a class="pr" href="https://github.com/acme/shop/pull/42">#42</a>' in r3 and "feature" in r3
    assert "95% passed · 1 failed" in row_of(page, "suite")  # a suite's headline is its pass rate


def test_paging_walks_older_and_back_to_the_newest(seeded: RunsBench) -> None:
    seen: list[str] = []
    url: str | None = "/ui/runs?limit=2&branch=main"
    pages = 0
    while url:
        page = seeded.get(url).text
        seen += page_run_ids(page)
        pages += 1
        if pages > 1:
            assert 'href="/ui/runs?branch=main&amp;limit=2">« Newest</a>' in page
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = html.unescape(found.group(1)) if found else None
    assert seen == [r["run_id"] for r in seeded.runs("?branch=main")] == ["suite", "r4", "r2", "r1"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("?pr=forty-two", "pr"), ("?outcome=green", "outcome"), ("?transition=flipped", "transition"),
     ("?limit=0", "limit"), ("?before=evt_1", "before"), ("?name=" + "x" * 201, "name")],
)  # fmt: skip
def test_a_bad_filter_is_a_400_page_naming_it(seeded: RunsBench, query: str, field: str) -> None:
    r = seeded.get("/ui/runs" + query + "&branch=main")
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert f'<span class="field-error" id="error-{field}">' in r.text
    assert 'name="branch" value="main"' in r.text  # the other filters stay in the form


@pytest.mark.parametrize("path", ["/ui/runs/run_0123", "/ui/runs/not-a-key", "/ui/runs/run_" + "0" * 70])
def test_an_unknown_run_is_a_404_page_and_a_404_answer(runs_bench: RunsBench, path: str) -> None:
    r = runs_bench.get(path)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "unknown_run" in r.text and "Traceback" not in r.text
    api = runs_bench.get(path.replace("/ui/", "/api/"))
    assert api.status_code == 404 and api.json()["code"] == "unknown_run" and api.json()["error"]


def detail(bench: RunsBench, run_id: str) -> tuple[dict[str, Any], str]:
    (run,) = [r for r in bench.runs("?limit=500") if r["run_id"] == run_id]
    r = bench.get(f"/ui/runs/{run['key']}")
    assert r.status_code == 200
    return run, r.text


def trend_of(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="trend-data">(.*?)</script>', page, re.S)
    assert found, "no trend data on the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_detail_shows_timeline_statuses_trigger_previous_and_trend(seeded: RunsBench) -> None:
    run, page = detail(seeded, "r2")
    events = seeded.get(f"/api/runs/{run['key']}").json()["events"]
    assert [e["type"] for e in events] == ["run.started", "run.completed"]
    timeline = page.split('<ol class="timeline">')[1]
    for e in events:
        assert f'href="/ui/events/{e["id"]}"' in timeline
        for d in seeded.get(f"/api/events/{e['id']}").json()["deliveries"]:
            assert f'<a class="mono id" href="/ui/deliveries/{d["id"]}">' in timeline
    statuses = page.split("Commit status history")[1].split("<h2>")[0]
    assert text(statuses).count("queued dlv_") == 2
    assert " pending " in text(statuses) and " failure Checkout: failed " in text(statuses)
    assert "hook" not in statuses  # the notification is no commit status
    assert "not started by Hookyard" in page
    assert f'href="/ui/runs/{run["previous_key"]}"' in page
    assert "p95 650 ms" in page and "1 min 1 s" in page
    trend = trend_of(page)
    assert trend["label"] == "p95 latency (ms)"
    assert [(p["value"], p["outcome"], p["current"]) for p in trend["points"]] == [
        (400, "passed", False),
        (650, "failed", True),
    ]  # the runs of this test up to this one (r3 and r4 ended later; "Suite" is another test)
    assert '<script src="/ui/static/vendor/chart.umd.min.js" defer></script>' in page


def test_the_trigger_links_the_event_and_delivery_that_started_the_run(seeded: RunsBench) -> None:
    run = seeded.runs("?name=Suite")[0]
    trigger = seeded.runs("?transition=broken")[0]
    (event_id,) = [e["id"] for e in seeded.get(f"/api/runs/{trigger['key']}").json()["events"][-1:]]
    delivery = seeded.get(f"/api/events/{event_id}").json()["deliveries"][0]
    seeded.sql("UPDATE runs SET trigger_event_id = ?, trigger_delivery_id = ? WHERE key = ?",
               event_id, delivery["id"], run["key"])  # fmt: skip
    _, page = detail(seeded, "suite")
    cell = page.split('<tr class="trigger">')[1].split("</tr>")[0]
    assert f'href="/ui/events/{event_id}"' in cell and f'href="/ui/deliveries/{delivery["id"]}"' in cell
    assert "run.completed" in cell and delivery["sink"] in cell
    # the triggering event's own commit status counts in this commit's history
    assert 'Commit status history <span class="muted">(2)</span>' in page
    seeded.sql("UPDATE runs SET trigger_event_id = 'evt_gone', trigger_delivery_id = 'dlv_gone' WHERE key = ?",
               run["key"])  # fmt: skip
    _, page = detail(seeded, "suite")
    assert 'evt_gone</span> <span class="muted">(not stored)' in page


def test_the_trend_charts_the_last_50_runs_of_the_test(runs_bench: RunsBench) -> None:
    for n in range(53):
        runs_bench.send(payload(f"t{n}", minute=0, finished_at=f"2026-02-06T13:{n:02d}:00Z", p95=300 + n))
    runs_bench.send(payload("running", "started", minute=0))
    run, page = detail(runs_bench, "t52")
    points = trend_of(page)["points"]
    assert len(points) == 50 and [p["value"] for p in points] == [300 + n for n in range(3, 53)]
    assert [p["key"] for p in points if p["current"]] == [run["key"]]
    _, page = detail(runs_bench, "running")  # not finished: the test's latest runs, none highlighted
    assert "this run has not finished" in page
    assert not [p for p in trend_of(page)["points"] if p["current"]] and len(trend_of(page)["points"]) == 50


def test_a_run_with_nothing_to_chart_has_no_script(runs_bench: RunsBench) -> None:
    runs_bench.send(payload("bare", p95=None))
    _, page = detail(runs_bench, "bare")
    assert "No headline metric to chart" in page and "<script" not in page


EVIL = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"


def test_every_value_from_events_is_escaped(runs_bench: RunsBench) -> None:
    runs_bench.send(payload("evil", name=EVIL, branch=EVIL, repo="acme/<b>x", url="javascript:alert(3)", p95=1,
                            sha="not-a-sha<i>", pr=7))  # fmt: skip
    (run,) = runs_bench.runs()
    pages = [runs_bench.get("/ui/runs").text, runs_bench.get(f"/ui/runs/{run['key']}").text]
    for page in pages:
        assert "<img" not in page and "<b>x" not in page and "<i>" not in page and "alert(2)</script>" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "javascript:" not in page  # a platform link that is not http(s) is not a link
        assert "https://github.com/acme" not in page  # no commit or PR link from a malformed repo or sha
    assert len(re.findall(r"<script", pages[1])) == 3  # ours: Chart.js, the chart, the JSON block


def test_the_run_page_alone_may_load_scripts_and_only_from_this_server(seeded: RunsBench) -> None:
    run, _ = detail(seeded, "r1")
    csp = seeded.get(f"/ui/runs/{run['key']}").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert "script-src" not in seeded.get("/ui/runs").headers["content-security-policy"]
    js = seeded.client.get("/ui/static/vendor/chart.umd.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.text.startswith("/*!\n * Chart.js v4.") and js.headers["x-content-type-options"] == "nosniff"
    assert seeded.client.get("/ui/static/runs-chart.js").status_code == 200
    missing = seeded.client.get("/ui/static/vendor/nope.js")
    assert missing.status_code == 404


def test_the_vendored_chart_is_the_pinned_release_with_its_licence() -> None:
    vendor = Path(receiver.web.__file__).parent / "static" / "vendor"
    recorded = re.search(r"\| `chart\.umd\.min\.js` \|.*\| `([0-9a-f]{64})` \|", (vendor / "README.md").read_text())
    assert recorded, "vendor/README.md records no sha256 for chart.umd.min.js"
    assert hashlib.sha256((vendor / "chart.umd.min.js").read_bytes()).hexdigest() == recorded.group(1)
    assert (vendor / "chart.umd.min.js").read_text().startswith("/*!\n * Chart.js v4.6.1\n")
    assert (vendor / "chart.js.LICENSE.md").read_text().startswith("The MIT License (MIT)")
