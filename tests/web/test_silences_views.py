"""``/ui/silences`` in-process: the form keeps what was typed and says what is wrong (400),
forms need the CSRF token, unknown silences are a 404 page, a silenced delivery links to its silence."""

from __future__ import annotations

import html

from receiver.store.base import AttemptRow, DeliveryState, Outcome
from tests.web.conftest import Bench
from tests.web.test_auth import csrf_of

FORM = {"matchers": "source=fusillade\ndata.run.name=Nightly*", "duration": "2h", "comment": "perf env down"}


def test_create_and_expire_on_the_page(bench: Bench) -> None:
    page = bench.get("/ui/silences?match=source%3Dfusillade&match=type%3Drun.failed")
    assert page.status_code == 200
    assert "source=fusillade\ntype=run.failed</textarea>" in page.text
    r = bench.post("/ui/silences", data={**FORM, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/silences?done=silenced&id=sil_")
    listed = bench.get(r.headers["location"]).text
    assert "Silence sil_" in listed and "data.run.name=Nightly*" in listed and "(by page)" in listed
    [silence] = bench.get("/api/silences").json()["silences"]
    r = bench.post(f"/ui/silences/{silence['id']}/expire", data={"csrf": csrf_of(listed)}, follow_redirects=False)
    assert r.status_code == 303 and "done=unsilenced" in r.headers["location"]
    assert bench.get("/api/silences").json()["silences"][0]["state"] == "expired"


def test_a_bad_silence_is_shown_with_the_form_kept(bench: Bench) -> None:
    csrf = csrf_of(bench.get("/ui/silences").text)
    for fields, error in (
        ({"matchers": "nope"}, "&#39;nope&#39; is not a matcher like"),
        ({"duration": "soon"}, "duration: &#39;soon&#39; is not a duration like 30s, 5m, 12h or 7d"),
        ({"starts": "tomorrow"}, "starts: &#39;tomorrow&#39; is not a time such as 2026-03-01T22:00:00Z"),
        ({"comment": ""}, "a silence needs a comment"),
    ):
        r = bench.post("/ui/silences", data={**FORM, **fields, "csrf": csrf})
        assert r.status_code == 400 and error in r.text, r.text
        assert html.escape(FORM["comment"] if "comment" not in fields else "") in r.text
    assert bench.get("/api/silences").json()["silences"] == []


def test_forms_need_the_csrf_token_and_unknown_silences_are_404(bench: Bench) -> None:
    r = bench.post("/ui/silences", data=FORM)
    assert r.status_code == 403 and "this form has expired" in r.text
    csrf = csrf_of(bench.get("/ui/silences").text)
    r = bench.post("/ui/silences/sil_nope/expire", data={"csrf": csrf})
    assert r.status_code == 404 and "no silence sil_nope" in r.text


def test_an_event_offers_a_silence_and_a_silenced_delivery_links_to_it(bench: Bench) -> None:
    event = bench.post_event("test.failed", "run-1")
    page = bench.get(f"/ui/events/{event}").text
    assert 'href="/ui/silences?match=source%3Dfusillade&amp;match=type%3Drun.failed&amp;' in page
    (dlv,) = bench.delivery_ids(event)
    store = bench.hy.store
    now = bench.hy.clock()
    claimed = bench.call(store.claim_due, now + 3600, 100, 60.0, "w")
    assert dlv in [c.delivery.id for c in claimed]
    attempt = AttemptRow(dlv, 0, now, now, 0.0, "silenced", None, None, "silenced by sil_x", None)
    outcome = Outcome(attempt, DeliveryState.SILENCED, None, "silenced by sil_x", quieted_by="sil_x")
    assert bench.call(store.finish, dlv, "w", outcome)
    page = bench.get(f"/ui/deliveries/{dlv}").text
    assert 'silenced by\n  <a class="mono id" href="/ui/silences#sil_x">sil_x</a>' in page
    assert "<th>why it was held back</th>" in page
    assert f'action="/ui/deliveries/{dlv}/retry"' in page  # retried like a dead one
