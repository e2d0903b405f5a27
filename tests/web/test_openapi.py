"""``/api/openapi.json``: a valid OpenAPI 3.1 document covering every API route, and every
answer the API gives (successes and refusals) validates against it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from starlette.routing import Route

from receiver.runs.model import TRANSITIONS
from receiver.runs.present import FILTERS
from receiver.store.base import AttemptRow, DeliveryState, Outcome
from receiver.web import models
from tests.web.conftest import WEB_TOKEN, Bench, open_bench
from tests.web.test_auth import client_from


def operation_schema(doc: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The response schema the document gives for a concrete request path (templates matched)."""
    for template, operations in doc["paths"].items():
        if re.fullmatch(re.sub(r"{\w+}", "[^/]+", template), path) and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            assert str(status) in responses, f"{method} {template} answers {status}, which the document omits"
            schema: dict[str, Any] = responses[str(status)]["content"]["application/json"]["schema"]
            return schema
    raise AssertionError(f"{method} {path} is not in the document")


def check(doc: dict[str, Any], method: str, path: str, response: Any) -> None:
    schema = operation_schema(doc, path.split("?")[0], method, response.status_code)
    schema = {**schema, "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(response.json())


def test_the_document_is_openapi_3_1_and_covers_every_api_route(bench: Bench) -> None:
    r = bench.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    validate_openapi(doc)  # the OpenAPI 3.1 schema, and each JSON Schema in it
    routes = {
        (route.path, method)
        for route in bench.client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/api/") and route.path != "/api/openapi.json"
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    # The answer models are the handlers' own: a field added to one shows up here.
    assert "last_reason" in doc["components"]["schemas"]["Delivery"]["properties"]
    assert doc["components"]["schemas"]["Stats"]["additionalProperties"] is True  # others may add keys
    assert {"/api/runs", "/api/runs/{run_key}"} <= set(doc["paths"])
    run_params = {p["name"]: p["schema"] for p in doc["paths"]["/api/runs"]["get"]["parameters"]}
    assert set(run_params) == {*FILTERS, "before", "limit"}  # the filters run_query takes, no more, no less
    assert run_params["transition"]["enum"] == list(TRANSITIONS)


def test_the_run_model_is_the_shape_run_dict_gives() -> None:
    """``extra="forbid"``: a field run_dict adds without the model fails every /api/runs answer."""
    assert get_args(get_args(models.Run.model_fields["transition"].annotation)[0]) == TRANSITIONS


def test_every_answer_validates_against_the_document(bench: Bench) -> None:
    doc = bench.get("/api/openapi.json").json()
    failed = bench.post_event("test.failed", "run-f")
    completed = bench.post_event("test.completed", "run-c")
    (dead,) = bench.delivery_ids(failed)
    bench.kill(dead)
    (queued,) = bench.delivery_ids(completed)
    run_key = bench.get("/api/runs?outcome=passed").json()["runs"][0]["key"]
    requests = [
        ("GET", "/api/events"),
        ("GET", "/api/events?type=run.*&outcome=failed&delivery=dead&sink=hook&rule=notify-failed&limit=5"),
        ("GET", "/api/events?q=run&since=2026-01-01T00:00:00Z"),
        ("GET", "/api/events?delivery=not_succeeded"),
        ("GET", f"/api/events/{failed}"),
        ("GET", f"/api/events/{completed}"),
        ("GET", "/api/deliveries"),
        ("GET", "/api/deliveries?state=dead&sink=hook"),
        ("GET", f"/api/deliveries/{dead}"),
        ("GET", "/api/stats"),
        ("GET", "/api/runs"),
        ("GET", "/api/runs?platform=fusillade&name=API%20Load%20Test&outcome=errored&transition=first&limit=1"),
        ("GET", f"/api/runs/{run_key}"),
        ("POST", f"/api/deliveries/{dead}/retry"),
        ("POST", f"/api/deliveries/{queued}/retry"),  # 409
        ("POST", f"/api/events/{failed}/replay"),  # 202
        ("POST", "/api/sinks/hook/retry-dead"),
        ("POST", "/api/sinks/nowhere/retry-dead"),  # 404
        ("GET", "/api/events/evt_nope"),  # 404
        ("GET", "/api/deliveries/dlv_nope"),  # 404
        ("GET", "/api/events?limit=0"),  # 400
        ("GET", "/api/events?outcome=great"),  # 400
        ("GET", "/api/events?type=run%20failed"),  # 400
        ("GET", "/api/deliveries?state=lost"),  # 400
        ("GET", "/api/runs/run_0123"),  # 404
        ("GET", "/api/runs?transition=flipped"),  # 400
    ]
    statuses = []
    for method, path in requests:
        r = bench.client.request(method, path)
        statuses.append(r.status_code)
        check(doc, method, path, r)
    assert statuses == [200] * 13 + [200, 409, 202, 200, 404, 404, 404, 400, 400, 400, 400, 404, 400]


def test_refusals_validate_too(tmp_path: Path, secret_env: None) -> None:
    with open_bench(tmp_path, token=True) as bench, client_from(bench, "10.1.2.3") as c:
        doc = c.get("/api/openapi.json", headers={"Authorization": f"Bearer {WEB_TOKEN}"}).json()
        assert c.get("/api/openapi.json").status_code == 401
        for _ in range(10):
            check(doc, "GET", "/api/stats", c.get("/api/stats", headers={"Authorization": "Bearer nope"}))
        r = c.get("/api/stats", headers={"Authorization": f"Bearer {WEB_TOKEN}"})
        assert r.status_code == 429
        check(doc, "GET", "/api/stats", r)
    with open_bench(tmp_path) as bench, client_from(bench, "10.1.2.3") as c:
        r = c.get("/api/events")
        assert r.status_code == 403
        check(doc, "GET", "/api/events", r)


@pytest.mark.parametrize("reason", ["http 503: busy", None])
def test_a_delivery_without_attempts_or_reason_validates(bench: Bench, reason: str | None) -> None:
    doc = bench.get("/api/openapi.json").json()
    event = bench.post_event("test.failed", "run-x")
    (dlv,) = bench.delivery_ids(event)
    check(doc, "GET", f"/api/deliveries/{dlv}", bench.get(f"/api/deliveries/{dlv}"))
    store: Any = bench.hy.store
    now = bench.hy.clock()
    bench.call(store.claim_due, now + 3600, 10, 60.0, "w")
    attempt = AttemptRow(dlv, 1, now, now, 1.0, "failed", None, "connect", reason, None)
    bench.call(store.finish, dlv, "w", Outcome(attempt, DeliveryState.DEAD, None, None))
    r = bench.get(f"/api/deliveries/{dlv}")
    assert r.json()["last_reason"] == reason
    check(doc, "GET", f"/api/deliveries/{dlv}", r)
