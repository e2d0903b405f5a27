"""``/api/silences``: create, list, expire; 4xx JSON for bad input; the write endpoints' auth;
the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import assert_no_secret
from tests.web.conftest import SECRETS, WEB_TOKEN, Bench

NIGHTLY = {"matchers": ["data.run.name=Nightly*", "source=fusillade"], "duration": "2h", "comment": "perf env down"}


def test_add_list_and_expire(bench: Bench) -> None:
    r = bench.post("/api/silences", json=NIGHTLY)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["id"].startswith("sil_") and made["state"] == "active" and made["expired_at"] is None
    assert (made["matchers"], made["comment"], made["created_by"]) == (NIGHTLY["matchers"], "perf env down", "api")
    later = bench.post("/api/silences", json={**NIGHTLY, "starts_at": "2999-01-01T00:00:00Z", "duration": "1d"})
    assert later.json()["state"] == "pending" and later.json()["ends_at"] == "2999-01-02T00:00:00.000Z"
    listed = bench.get("/api/silences").json()["silences"]
    assert [s["id"] for s in listed] == [later.json()["id"], made["id"]]
    gone = bench.client.delete(f"/api/silences/{made['id']}")
    assert gone.status_code == 200 and gone.json()["state"] == "expired" and gone.json()["expired_at"]
    again = bench.client.delete(f"/api/silences/{made['id']}")  # already expired: unchanged
    assert again.status_code == 200 and again.json()["expired_at"] == gone.json()["expired_at"]
    assert [s["state"] for s in bench.get("/api/silences").json()["silences"]] == ["pending", "expired"]


@pytest.mark.parametrize(
    ("body", "status", "code", "error"),
    [
        (
            {**NIGHTLY, "matchers": ["nope", "type=~(a"]},
            400,
            "bad_matcher",
            "'nope' is not a matcher like source=fusillade, data.run.name=Nightly* or type=~run\\..*; "
            "'type=~(a': invalid regex: missing ), unterminated subpattern at position 0",
        ),
        ({**NIGHTLY, "matchers": []}, 400, "bad_silence",
         "matchers: List should have at least 1 item after validation, not 0"),
        ({**NIGHTLY, "duration": None}, 400, "bad_silence", "give either duration (30m, 2h, 7d) or ends_at"),
        ({**NIGHTLY, "duration": "2 hours"}, 400, "bad_silence",
         "duration: '2 hours' is not a duration like 30s, 5m, 12h or 7d"),
        ({**NIGHTLY, "color": "red"}, 400, "bad_silence", "color: Extra inputs are not permitted"),
        ({**NIGHTLY, "comment": "  "}, 400, "bad_silence",
         "a silence needs a comment (why, for whoever sees it later)"),
        (
            {**NIGHTLY, "duration": None, "ends_at": "2000-01-01T00:00:00Z"},
            400,
            "bad_silence",
            "a silence must end after it starts and after now",
        ),
        ({**NIGHTLY, "starts_at": "yesterday"}, 400, "bad_silence",
         "starts_at: 'yesterday' is not a time such as 2026-03-01T22:00:00Z"),
        ({**NIGHTLY, "starts_at": "nan"}, 400, "bad_silence", "a silence must end after it starts and after now"),
        ([1, 2], 400, "bad_silence", "body: Input should be a valid dictionary or instance of NewSilence"),
    ],
)  # fmt: skip
def test_bad_silences_are_4xx_json(bench: Bench, body: Any, status: int, code: str, error: str) -> None:
    r = bench.post("/api/silences", json=body)
    assert (r.status_code, r.json()) == (status, {"error": error, "code": code})
    assert bench.get("/api/silences").json()["silences"] == []


def test_not_json_and_unknown_ids(bench: Bench) -> None:
    r = bench.post("/api/silences", content=b"{not json", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, "bad_json")
    r = bench.client.delete("/api/silences/sil_nope")
    assert (r.status_code, r.json()) == (404, {"error": "no silence sil_nope", "code": "silence_not_found"})


def test_writes_need_the_token_and_the_same_origin(token_bench: Bench) -> None:
    b = token_bench
    assert b.post("/api/silences", json=NIGHTLY).status_code == 401
    auth = {"Authorization": f"Bearer {WEB_TOKEN}"}
    cross = b.post("/api/silences", json=NIGHTLY, headers={**auth, "Origin": "https://evil.example"})
    assert (cross.status_code, cross.json()["code"]) == (403, "cross_origin")
    made = b.post("/api/silences", json=NIGHTLY, headers=auth)
    assert made.status_code == 201 and made.json()["created_by"] == "api token"
    assert b.client.delete(f"/api/silences/{made.json()['id']}").status_code == 401
    assert b.get("/api/silences").status_code == 401
    assert len(b.get("/api/silences", headers=auth).json()["silences"]) == 1
    assert_no_secret(b.seen, SECRETS)


def test_openapi_documents_silences_and_the_new_states(bench: Bench) -> None:
    doc = bench.get("/api/openapi.json").json()
    post = doc["paths"]["/api/silences"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewSilence"}
    assert set(post["responses"]) == {"201", "400", "401", "403", "429"}
    assert set(doc["paths"]["/api/silences/{silence_id}"]) == {"delete"}
    assert "404" in doc["paths"]["/api/silences/{silence_id}"]["delete"]["responses"]
    states = doc["components"]["schemas"]["Delivery"]["properties"]["state"]["enum"]
    assert {"suppressed", "silenced"} <= set(states)
    state_param = next(p for p in doc["paths"]["/api/deliveries"]["get"]["parameters"] if p["name"] == "state")
    assert {"suppressed", "silenced"} <= set(state_param["schema"]["enum"])
